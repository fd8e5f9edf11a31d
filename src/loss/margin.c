/* Instantiates margin_impl.h for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_loss.h"

#if defined(_OPENMP) || defined(SKCE_HAVE_OMP_SIMD)
#define SKCE_SIMD_REDUCTION_SUM2(a, b) SKCE_PRAGMA(omp simd reduction(+ : a, b))
#else
#define SKCE_SIMD_REDUCTION_SUM2(a, b)
#endif

#define REAL double
#define SFX(name) name##_f64
#include "margin_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX(name) name##_f32
#include "margin_impl.h"
#undef REAL
#undef SFX
