/* Instantiates softmax_impl.h for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_loss.h"

/* Row r of an (n, C, D) problem is sample i = r / D at position d = r % D. */
#define SKCE_ROW_INDEX(r, shape, i, d)                                            \
    do {                                                                          \
        if ((shape)->n_pos == 1) { i = (r); d = 0; }                              \
        else { i = (r) / (shape)->n_pos; d = (r) - (i) * (shape)->n_pos; }        \
    } while (0)

/* 4 x 4 transposes of 4-lane vectors (GCC/Clang vector extensions; AVX
 * unpack + 128-bit lane permutes for double, SSE unpacks for float), used
 * to write gradient tiles back with whole-vector stores instead of one
 * scalar store per element. */
#if defined(__GNUC__) && !defined(SKCE_NO_VECTOR_EXT)
#define SKCE_HAVE_T4 1
typedef double skce_v4d __attribute__((vector_size(32)));
typedef float skce_v4f __attribute__((vector_size(16)));
typedef int64_t skce_v4l __attribute__((vector_size(32)));
typedef int32_t skce_v4i __attribute__((vector_size(16)));
#if defined(__clang__)
#define SKCE_SHUF4(V, I, a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define SKCE_SHUF4(V, I, a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, (I){i0, i1, i2, i3})
#endif

/* rows *r0 .. *r3 (4 lanes each) -> columns, in place */
SKCE_INLINE void skce_t4_f64(skce_v4d *r0, skce_v4d *r1, skce_v4d *r2, skce_v4d *r3)
{
    const skce_v4d t0 = SKCE_SHUF4(skce_v4d, skce_v4l, *r0, *r1, 0, 4, 2, 6);
    const skce_v4d t1 = SKCE_SHUF4(skce_v4d, skce_v4l, *r0, *r1, 1, 5, 3, 7);
    const skce_v4d t2 = SKCE_SHUF4(skce_v4d, skce_v4l, *r2, *r3, 0, 4, 2, 6);
    const skce_v4d t3 = SKCE_SHUF4(skce_v4d, skce_v4l, *r2, *r3, 1, 5, 3, 7);
    *r0 = SKCE_SHUF4(skce_v4d, skce_v4l, t0, t2, 0, 1, 4, 5);
    *r1 = SKCE_SHUF4(skce_v4d, skce_v4l, t1, t3, 0, 1, 4, 5);
    *r2 = SKCE_SHUF4(skce_v4d, skce_v4l, t0, t2, 2, 3, 6, 7);
    *r3 = SKCE_SHUF4(skce_v4d, skce_v4l, t1, t3, 2, 3, 6, 7);
}

SKCE_INLINE void skce_t4_f32(skce_v4f *r0, skce_v4f *r1, skce_v4f *r2, skce_v4f *r3)
{
    const skce_v4f t0 = SKCE_SHUF4(skce_v4f, skce_v4i, *r0, *r1, 0, 4, 1, 5);
    const skce_v4f t1 = SKCE_SHUF4(skce_v4f, skce_v4i, *r0, *r1, 2, 6, 3, 7);
    const skce_v4f t2 = SKCE_SHUF4(skce_v4f, skce_v4i, *r2, *r3, 0, 4, 1, 5);
    const skce_v4f t3 = SKCE_SHUF4(skce_v4f, skce_v4i, *r2, *r3, 2, 6, 3, 7);
    *r0 = SKCE_SHUF4(skce_v4f, skce_v4i, t0, t2, 0, 1, 4, 5);
    *r1 = SKCE_SHUF4(skce_v4f, skce_v4i, t0, t2, 2, 3, 6, 7);
    *r2 = SKCE_SHUF4(skce_v4f, skce_v4i, t1, t3, 0, 1, 4, 5);
    *r3 = SKCE_SHUF4(skce_v4f, skce_v4i, t1, t3, 2, 3, 6, 7);
}
/* running maximum m = v > m ? v : m, lane by lane (a NaN already in m
 * stays, a NaN in v is skipped); a macro, as vector-valued functions would
 * change the ABI of the baseline clone (-Wpsabi) */
#define SKCE_VMAX(L, m, v)                                                   \
    do {                                                                     \
        const L gt_ = (v) > (m);                                             \
        (m) = (__typeof__(m))(((L)(v) & gt_) | ((L)(m) & ~gt_));             \
    } while (0)
#endif

#define REAL double
#define SFX(name) name##_f64
#define EXP skce_expneg_f64
#define IDX int64_t
#define V4 skce_v4d
#define V4I skce_v4l
#define ACC double
#define LOG_ACC skce_log_f64
#include "softmax_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef IDX
#undef V4
#undef V4I
#undef ACC
#undef LOG_ACC

#define REAL float
#define SFX(name) name##_f32
#define EXP skce_expneg_f32
#define IDX int32_t
#define V4 skce_v4f
#define V4I skce_v4i
#define ACC float
#define LOG_ACC skce_log_f32
#include "softmax_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef IDX
#undef V4
#undef V4I
#undef ACC
#undef LOG_ACC

double skce_index_target_weight_block(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    const int64_t *target, const double *class_weight, const double *sample_weight,
    int64_t ignore_index, ptrdiff_t *bad_row)
{
    double total = 0.0;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t i, d;
        SKCE_ROW_INDEX(r, shape, i, d);
        int64_t t = target[i * shape->t_sample + d * shape->t_pos];
        if (t == ignore_index) continue;
        if (t < 0 || t >= shape->n_classes) {
            *bad_row = r;
            return total;
        }
        total += (class_weight ? class_weight[t] : 1.0) * (sample_weight ? sample_weight[i] : 1.0);
    }
    return total;
}
