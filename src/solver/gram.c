/* The Hessian of Newton's method for sparse rows (see skce_solver.h):
 * H += sum_i c_i x_i x_iᵀ and xc += sum_i c_i x_i over CSR rows, in float64.
 * A row with m stored values adds m^2 products: O(sum of m^2), where a
 * dense Gram matrix of the same rows costs n d^2. */
#include <stddef.h>
#include <stdint.h>
#include "skce_solver.h"

#define SKCE_DEFINE_GRAM(REAL, SFX, INDEX, ISFX)                                              \
    void skce_csr_weighted_gram##SFX##ISFX(ptrdiff_t r0, ptrdiff_t r1, const REAL *data,      \
                                           const INDEX *indices, const INDEX *indptr,         \
                                           const double *c, ptrdiff_t d, double *restrict H,  \
                                           double *restrict xc)                               \
    {                                                                                         \
        for (ptrdiff_t i = r0; i < r1; i++) {                                                 \
            const double ci = c[i - r0];                                                      \
            if (ci == 0.0)                                                                    \
                continue;                                                                     \
            for (ptrdiff_t p = indptr[i]; p < indptr[i + 1]; p++) {                           \
                const double v = ci * (double)data[p];                                        \
                double *h = H + (ptrdiff_t)indices[p] * d;                                    \
                xc[indices[p]] += v;                                                          \
                for (ptrdiff_t q = indptr[i]; q < indptr[i + 1]; q++)                         \
                    h[indices[q]] += v * (double)data[q];                                     \
            }                                                                                 \
        }                                                                                     \
    }

SKCE_DEFINE_GRAM(double, _f64, int32_t, _i32)
SKCE_DEFINE_GRAM(double, _f64, int64_t, _i64)
SKCE_DEFINE_GRAM(float, _f32, int32_t, _i32)
SKCE_DEFINE_GRAM(float, _f32, int64_t, _i64)

/* The entry points on skce_csr (skce_solver.h). */
void skce_csr_weighted_gram_f64(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1, const double *c,
                                ptrdiff_t d, double *H, double *xc)
{
    SKCE_CSR_CALL(X, skce_csr_weighted_gram_f64, r0, r1, X->data, X->indices, X->indptr, c, d,
                  H, xc);
}

void skce_csr_weighted_gram_f32(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1, const double *c,
                                ptrdiff_t d, double *H, double *xc)
{
    SKCE_CSR_CALL(X, skce_csr_weighted_gram_f32, r0, r1, X->data, X->indices, X->indptr, c, d,
                  H, xc);
}
