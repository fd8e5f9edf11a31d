/* Instantiates ntxent_impl.h (NT-Xent contrastive loss) for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_loss.h"

#define REAL double
#define SFX(name) name##_f64
#include "ntxent_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX(name) name##_f32
#include "ntxent_impl.h"
#undef REAL
#undef SFX

size_t skce_ntxent_work_size(const skce_ntxent_options *opt)
{
    return (size_t)SKCE_NTX_BLOCK * (size_t)(opt->rows_pad + opt->dim_pad)
           + (size_t)opt->dim_pad;
}
