/* What every layer of skce's C code shares. */
#ifndef SKCE_COMMON_H
#define SKCE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The instruction set the kernels run with on this CPU, as text. */
const char *skce_simd_level(void);

/* ---- CSR structure (csr_check.c) ----
 *
 * skce_csr_check: is (indptr of n_rows + 1 entries, indices) a CSR
 * structure whose rows every kernel can read?  indptr[0] == 0, indptr never
 * decreasing, indptr[n_rows] <= n_stored (the length of data and of
 * indices, whichever is shorter), and 0 <= indices[q] < n_cols for every
 * stored entry q < indptr[n_rows].  Returns SKCE_CSR_OK or the first
 * failure, with *where the row (indptr failures) or the position q in
 * indices (SKCE_CSR_INDEX_RANGE).  A CSC matrix is checked as the CSR
 * structure of its transpose. */
enum {
    SKCE_CSR_OK = 0,
    SKCE_CSR_INDPTR_START = 1,
    SKCE_CSR_INDPTR_DECREASING = 2,
    SKCE_CSR_INDPTR_END = 3,
    SKCE_CSR_INDEX_RANGE = 4,
};

int skce_csr_check_i32(ptrdiff_t n_rows, ptrdiff_t n_cols, const int32_t *indptr,
                       const int32_t *indices, ptrdiff_t n_stored, ptrdiff_t *where);
int skce_csr_check_i64(ptrdiff_t n_rows, ptrdiff_t n_cols, const int64_t *indptr,
                       const int64_t *indices, ptrdiff_t n_stored, ptrdiff_t *where);

#endif /* SKCE_COMMON_H */
