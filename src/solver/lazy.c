/* Instantiates lazy_impl.h for double and float (with the optimizer loops
 * it inlines); the penalty history. */
#include <math.h>
#include "skce_math.h"
#include "skce_solver.h"

#define SKCE_LAZY_AHEAD 8   /* rows prefetched ahead */
#define SKCE_LAZY_LINE 64

#define REAL double
#define SFX(name) name##_f64
#include "optim_loops.h"
#include "lazy_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX(name) name##_f32
#include "optim_loops.h"
#include "lazy_impl.h"
#undef REAL
#undef SFX

void skce_lazy_history_reset(skce_lazy_history *h, int64_t t)
{
    h->S[t] = 1.0;
    h->U[t] = 0.0;
    h->QS[t] = 0.0;
    h->QSU[t] = 0.0;
}

void skce_lazy_history_append(skce_lazy_history *h, int64_t t, double a, double c)
{
    h->S[t] = h->S[t - 1] * a;
    h->U[t] = h->U[t - 1] + c / h->S[t];
    h->QS[t] = h->QS[t - 1] + h->S[t];
    h->QSU[t] = h->QSU[t - 1] + h->S[t] * h->U[t];
}
