/* Instantiates softmax_impl.h for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_kernels.h"

/* Row r of an (n, C, D) problem is sample i = r / D at position d = r % D. */
#define SKCE_ROW_INDEX(r, shape, i, d)                                            \
    do {                                                                          \
        if ((shape)->n_pos == 1) { i = (r); d = 0; }                              \
        else { i = (r) / (shape)->n_pos; d = (r) - (i) * (shape)->n_pos; }        \
    } while (0)

#define REAL double
#define SFX(name) name##_f64
#define EXP skce_expneg_f64
#define IDX int64_t
#include "softmax_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef IDX

#define REAL float
#define SFX(name) name##_f32
#define EXP skce_expneg_f32
#define IDX int32_t
#include "softmax_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef IDX

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

const char *skce_simd_level(void)
{
#if defined(SKCE_ENABLE_DISPATCH) && defined(__GNUC__) && !defined(__clang__) \
    && defined(__x86_64__) && defined(__linux__)
    /* the same test the target_clones resolver makes for arch=x86-64-v3 */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3: AVX2+FMA (runtime dispatch)";
    return "x86-64 baseline: SSE2 (runtime dispatch)";
#elif defined(__AVX512F__)
    return "AVX-512 (compile time)";
#elif defined(__AVX2__)
    return "AVX2 (compile time)";
#else
    return "baseline (compile time)";
#endif
}
