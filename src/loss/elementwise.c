/* Instantiates elementwise_impl.h for double and float. */

#include <math.h>
#include "skce_math.h"
#include "skce_loss.h"

#if defined(_OPENMP) || defined(SKCE_HAVE_OMP_SIMD)
#define SKCE_SIMD_REDUCTION_SUM4(a, b, c, d) SKCE_PRAGMA(omp simd reduction(+ : a, b, c, d))
#else
#define SKCE_SIMD_REDUCTION_SUM4(a, b, c, d)
#endif

/* log1p(e) for e in [0, 1] (NaN passes), vectorizable: log1p(f) =
 * 2 atanh(f / (2 + f)) by its odd series, with 1 + e halved (ln 2 added)
 * above sqrt(2) - 1 so that |f / (2 + f)| <= 0.1716.  f = e exactly below
 * that, so tiny e keep full relative precision.  Error < 2 ulp. */
SKCE_INLINE double skce_log1p01_f64(double e)
{
    const int big = e > 0x1.a827999fcef32p-2;           /* sqrt(2) - 1 */
    const double f = big ? (e - 1.0) * 0.5 : e;
    const double k = big ? 0x1.62e42fefa39efp-1 : 0.0;  /* ln 2 */
    const double s = f / (2.0 + f);
    const double z = s * s;
    double p = 1.0 / 21.0;                              /* z^10 / 23 < 2e-17 dropped */
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    const double s2 = s + s;
    return k + (s2 + s2 * z * p);
}

SKCE_INLINE float skce_log1p01_f32(float e)
{
    const int big = e > 0x1.a8279ap-2f;
    const float f = big ? (e - 1.0f) * 0.5f : e;
    const float k = big ? 0x1.62e430p-1f : 0.0f;
    const float s = f / (2.0f + f);
    const float z = s * s;
    float p = 1.0f / 11.0f;                             /* z^5 / 13 < 2e-9 dropped */
    p = p * z + 1.0f / 9.0f;
    p = p * z + 1.0f / 7.0f;
    p = p * z + 1.0f / 5.0f;
    p = p * z + 1.0f / 3.0f;
    const float s2 = s + s;
    return k + (s2 + s2 * z * p);
}

/* Row r of an (n, R, L) array: offset of its first element. */
SKCE_INLINE ptrdiff_t skce_nrl_offset(skce_strides_nrl s, ptrdiff_t r, ptrdiff_t R)
{
    if (R == 1) return r * s.sample;
    const ptrdiff_t i = r / R;
    return i * s.sample + (r - i * R) * s.row;
}

/* All rows of all samples lie at equal spacing s.col. */
#define SKCE_NRL_FLAT(s, R, L) ((s).row == (L) * (s).col && (s).sample == (R) * (s).row)

#define REAL double
#define SFX(name) name##_f64
#define EXP skce_expneg_f64   /* only exp(-|x|) is taken */
#define LOG1P01 skce_log1p01_f64
#define LOGF log
#define LOG1P log1p
#include "elementwise_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef LOG1P01
#undef LOGF
#undef LOG1P

#define REAL float
#define SFX(name) name##_f32
#define EXP skce_expneg_f32
#define LOG1P01 skce_log1p01_f32
#define LOGF logf
#define LOG1P log1pf
#include "elementwise_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef LOG1P01
#undef LOGF
#undef LOG1P
