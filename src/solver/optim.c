/* Instantiates optim_impl.h for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_solver.h"

#ifndef M_PI   /* not in strict C11 */
#define M_PI 3.14159265358979323846
#endif

#define REAL double
#define SFX(name) name##_f64
#include "optim_loops.h"
#include "optim_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX(name) name##_f32
#include "optim_loops.h"
#include "optim_impl.h"
#undef REAL
#undef SFX

void skce_optim_at_step(skce_optim_options *o, int64_t step, double lr)
{
    o->step = step;
    o->lr = lr;
    o->beta1_pow = pow(o->beta1, (double)step);
    o->beta2_pow = pow(o->beta2, (double)step);
}

double skce_learning_rate(int schedule, double eta, double power_t, double total_steps,
                          int64_t step)
{
    if (schedule == SKCE_LR_INVSCALING)
        return eta / pow((double)step, power_t);
    if (schedule == SKCE_LR_COSINE) {
        if (total_steps <= 0)
            return eta;
        double t = (double)(step - 1) < total_steps ? (double)(step - 1) : total_steps;
        return eta * 0.5 * (1.0 + cos(M_PI * t / total_steps));
    }
    return eta;
}
