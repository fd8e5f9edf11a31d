/* Instantiates ntxent_impl.h (NT-Xent contrastive loss) for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_loss.h"

#include <string.h>

#define REAL double
#define SFX(name) name##_f64
#define SREAL double                  /* type of the S products */
#define SKW SKCE_NTX_KW               /* panel rows (tile columns) of S */
#define S_TILE SFX(ntx_tile)
#include "ntxent_impl.h"
#undef REAL
#undef SFX
#undef SREAL
#undef SKW
#undef S_TILE

#define REAL float
#define SFX(name) name##_f32
#define SREAL float
#define SKW SKCE_NTX_KW_F32
#define S_TILE skce_ntx_tile_s32
#include "ntxent_impl.h"
#undef REAL
#undef SFX
#undef SREAL
#undef SKW
#undef S_TILE

size_t skce_ntxent_work_size(const skce_ntxent_options *opt)
{
    /* + the float copy of W (half as many doubles; unused for double) */
    return (size_t)SKCE_NTX_BLOCK * (size_t)(opt->rows_pad + opt->dim_pad)
           + (size_t)opt->dim_pad + (size_t)SKCE_NTX_BLOCK * (size_t)opt->rows_pad / 2 + 1;
}
