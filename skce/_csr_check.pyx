"""The compiled CSR structure check (src/common/csr_check.c), for
skce._validation.check_sparse_structure."""
from libc.stdint cimport int32_t, int64_t

from skce._kernels cimport *

OK, INDPTR_START, INDPTR_DECREASING, INDPTR_END, INDEX_RANGE = (
    SKCE_CSR_OK, SKCE_CSR_INDPTR_START, SKCE_CSR_INDPTR_DECREASING, SKCE_CSR_INDPTR_END,
    SKCE_CSR_INDEX_RANGE)

ctypedef fused index_t:
    int32_t
    int64_t


def csr_check(const index_t[::1] indptr, const index_t[::1] indices, Py_ssize_t n_cols,
              Py_ssize_t n_stored):
    """(status, where) of the C check; indptr has n_rows + 1 entries (>= 1)."""
    cdef Py_ssize_t where = 0, n_rows = indptr.shape[0] - 1
    cdef int status
    cdef const index_t *ip = &indices[0] if indices.shape[0] else NULL
    if n_stored > indices.shape[0]:
        n_stored = indices.shape[0]
    with nogil:
        if index_t is int32_t:
            status = skce_csr_check_i32(n_rows, n_cols, &indptr[0], ip, n_stored, &where)
        else:
            status = skce_csr_check_i64(n_rows, n_cols, &indptr[0], ip, n_stored, &where)
    return status, where
