/* Instantiates sparse_impl.h for double and float, int32 and int64 indices. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "skce_math.h"
#include "skce_solver.h"

#define REAL double
#define INDEX int32_t
#define NAME(name) name##_f64_i32
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#define INDEX int64_t
#define NAME(name) name##_f64_i64
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#undef REAL

#define REAL float
#define INDEX int32_t
#define NAME(name) name##_f32_i32
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#define INDEX int64_t
#define NAME(name) name##_f32_i64
#include "sparse_impl.h"
#undef INDEX
#undef NAME
#undef REAL

/* The entry points on skce_csr (skce_solver.h). */
#define SKCE_DEFINE_CSR_ROWS_ENTRY(REAL, SFX)                                                 \
    void skce_csr_rows_logits##SFX(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1,             \
                                   ptrdiff_t Kp, const REAL *W, const REAL *b, REAL *Z)       \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_rows_logits##SFX, r0, r1, X->data, X->indices, X->indptr,   \
                      Kp, W, b, Z);                                                           \
    }                                                                                         \
    void skce_csr_rows_weight_grad_add##SFX(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1,    \
                                            ptrdiff_t Kp, const REAL *G, REAL *D)             \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_rows_weight_grad_add##SFX, r0, r1, X->data, X->indices,     \
                      X->indptr, Kp, G, D);                                                   \
    }

SKCE_DEFINE_CSR_ROWS_ENTRY(double, _f64)
SKCE_DEFINE_CSR_ROWS_ENTRY(float, _f32)
