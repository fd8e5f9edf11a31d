"""Build and runtime configuration: show_config() and thread-count resolution."""
import os
import platform
import sys

from skce import _build_info
from skce._openmp_helpers import openmp_enabled, openmp_max_threads, simd_level


def effective_n_threads(n_threads=None, name="n_threads"):
    """Number of OpenMP threads the kernels will use.

    None means what an OpenMP parallel region would get now, which honours
    OMP_NUM_THREADS and threadpoolctl.threadpool_limits; a negative value
    counts back from the number of CPUs (-1 = all), as in scikit-learn.
    The one check of a thread count; `name` is the caller's parameter name
    (n_jobs for the estimators), for the error messages.
    """
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) and not (
            hasattr(n_threads, "__index__")
        ):
            raise TypeError(f"{name} must be None or an int; got {n_threads!r}")
        n_threads = int(n_threads)
        if n_threads == 0:
            raise ValueError(f"{name}=0 is not valid: use None (all available threads), "
                             "a positive count, or -1 for all CPUs")
    if not openmp_enabled():
        return 1
    if n_threads is None:
        return max(1, openmp_max_threads())
    if n_threads < 0:
        return max(1, (os.cpu_count() or 1) + n_threads + 1)
    return n_threads


def show_config(file=None):
    """Print the version, OpenMP state, thread count, compiler, flags and SIMD level."""
    file = sys.stdout if file is None else file
    lines = [
        f"skce {_build_info.VERSION}",
        f"python       {sys.version.split()[0]} ({platform.machine()}, {platform.system()})",
        f"OpenMP       {'enabled' if openmp_enabled() else 'disabled (kernels run on one thread)'}",
        f"threads      {effective_n_threads()} (n_threads=None; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} CPUs)",
        f"compiler     {_build_info.COMPILER} (buildtype={_build_info.BUILDTYPE})",
        f"kernel flags {_build_info.C_ARGS or '(none)'}",
        f"SIMD build   {_build_info.SIMD_BUILD}",
        f"SIMD in use  {simd_level()}",
    ]
    print("\n".join(lines), file=file)
