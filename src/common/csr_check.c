/* Structure check of a CSR (or CSC) matrix before any kernel reads it.
 *
 * scipy does not re-check the arrays of a matrix after construction (nor
 * when they are edited in place), and the kernels index data / indices and
 * the weights with them unchecked: one bad entry reads or writes out of
 * bounds.  One serial O(nnz) pass, a fraction of an epoch's cost. */
#include "skce_common.h"

#define SKCE_DEFINE_CSR_CHECK(INDEX, SFX)                                                     \
    int skce_csr_check##SFX(ptrdiff_t n_rows, ptrdiff_t n_cols, const INDEX *indptr,         \
                            const INDEX *indices, ptrdiff_t n_stored, ptrdiff_t *where)      \
    {                                                                                          \
        *where = 0;                                                                            \
        if (indptr[0] != 0)                                                                    \
            return SKCE_CSR_INDPTR_START;                                                      \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                                               \
            if (indptr[i + 1] < indptr[i]) {                                                   \
                *where = i;                                                                    \
                return SKCE_CSR_INDPTR_DECREASING;                                             \
            }                                                                                  \
        }                                                                                      \
        if ((int64_t)indptr[n_rows] > (int64_t)n_stored) {                                     \
            *where = n_rows;                                                                   \
            return SKCE_CSR_INDPTR_END;                                                        \
        }                                                                                      \
        const ptrdiff_t nnz = (ptrdiff_t)indptr[n_rows];                                       \
        /* one unsigned compare catches negative indices too */                               \
        for (ptrdiff_t q = 0; q < nnz; q++) {                                                  \
            if ((uint64_t)(int64_t)indices[q] >= (uint64_t)n_cols) {                           \
                *where = q;                                                                    \
                return SKCE_CSR_INDEX_RANGE;                                                   \
            }                                                                                  \
        }                                                                                      \
        return SKCE_CSR_OK;                                                                    \
    }

SKCE_DEFINE_CSR_CHECK(int32_t, _i32)
SKCE_DEFINE_CSR_CHECK(int64_t, _i64)
