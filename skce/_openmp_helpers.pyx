"""What the build and the OpenMP runtime provide: used by show_config() and
to resolve n_threads / n_jobs."""
from skce._kernels cimport skce_simd_level

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SKCE_OPENMP_ENABLED 1
    #else
    #define SKCE_OPENMP_ENABLED 0
    #define omp_get_max_threads() 1
    #endif
    """
    bint SKCE_OPENMP_ENABLED
    int omp_get_max_threads() nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(SKCE_OPENMP_ENABLED)


def openmp_max_threads():
    """Threads an OpenMP parallel region would use now (OMP_NUM_THREADS and
    threadpoolctl limits included); 1 without OpenMP."""
    return omp_get_max_threads()


def simd_level():
    """The instruction set the kernels dispatch to on this CPU."""
    return skce_simd_level().decode()
