/* Instantiates optim_impl.h for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_solver.h"

#define REAL double
#define SFX(name) name##_f64
#include "optim_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX(name) name##_f32
#include "optim_impl.h"
#undef REAL
#undef SFX
