/* The loss block of a training batch: one entry point over the kernels of
 * softmax.c, margin.c and elementwise.c (no arithmetic of its own). */
#include <stddef.h>
#include <stdint.h>
#include "skce_loss.h"

#define SKCE_DEFINE_LOSS_ROWS(REAL, SFX)                                                      \
    double skce_loss_rows##SFX(const skce_loss_spec *spec, ptrdiff_t r0, ptrdiff_t r1,         \
                               const REAL *Z, ptrdiff_t ldz, const int64_t *y, const REAL *Y,  \
                               const double *sample_weight, double grad_scale, REAL *G,        \
                               ptrdiff_t *bad_row)                                             \
    {                                                                                          \
        const ptrdiff_t K = spec->n_outputs;                                                   \
        if (spec->kind == SKCE_CE_INDEX) {                                                \
            /* (n, K) logits: one position per sample */                                      \
            const skce_shape shape = {K, 1, 1, 0};                                             \
            const skce_strides3 s3 = {ldz, 1, ldz};                                            \
            /* ignore_index -100: the targets were checked to lie in [0, K) */                 \
            const skce_ce_options ce = skce_ce_options_make(                                   \
                NULL, sample_weight, -100, spec->label_smoothing, grad_scale);                 \
            return skce_ce_index_block##SFX(r0, r1, &shape, &ce, Z, s3, y, NULL, G, s3);       \
        }                                                                                      \
        if (spec->kind == SKCE_MULTI_MARGIN) {                                                 \
            const skce_strides2 s2 = {ldz, 1};                                                 \
            const skce_margin_options mo = skce_margin_options_make(                           \
                K, 1, NULL, sample_weight, spec->margin, grad_scale, spec->squared ? 2 : 1,    \
                spec->crammer_singer);                                                         \
            return skce_multi_margin_block##SFX(r0, r1, &mo, Z, s2, y, NULL, G, s2, bad_row);  \
        }                                                                                      \
        /* elementwise: (n, 1, K) arrays */                                                   \
        const skce_ew_options ew = skce_ew_options_make(                                       \
            1, K, sample_weight, grad_scale, spec->margin, spec->delta, spec->squared);        \
        /* one output: the column of Z (and G) is one run at spacing ldz, so a   \
         * block without sample weights is one call (not one per row: a9a's      \
         * BCE cost 3x its products) */                                          \
        const skce_strides_nrl zs = {ldz, ldz, K == 1 ? ldz : 1}, ys = {K, K, 1};              \
        int flags = 0;                                                                         \
        switch (spec->kind) {                                                                  \
        case SKCE_BCE:                                                                         \
            return skce_bce_block##SFX(r0, r1, &ew, Z, zs, Y, ys, NULL, zs, NULL, zs, NULL,    \
                                       G, zs);                                                 \
        case SKCE_MSE:                                                                     \
            return skce_mse_block##SFX(r0, r1, &ew, Z, zs, Y, ys, NULL, zs, NULL, G, zs);      \
        case SKCE_HUBER:                                                                       \
            return skce_huber_block##SFX(r0, r1, &ew, Z, zs, Y, ys, NULL, zs, NULL, G, zs);    \
        default:   /* SKCE_HINGE; the targets were checked to be in {-1, 1} */                 \
            return skce_hinge_block##SFX(r0, r1, &ew, Z, zs, Y, ys, NULL, zs, NULL, G, zs,     \
                                         &flags);                                              \
        }                                                                                      \
    }

SKCE_DEFINE_LOSS_ROWS(double, _f64)
SKCE_DEFINE_LOSS_ROWS(float, _f32)
