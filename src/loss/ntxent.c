/* Instantiates ntxent_impl.h (NT-Xent contrastive loss) for double and float. */
#include <math.h>
#include "skce_math.h"
#include "skce_loss.h"

#include <string.h>

#if SKCE_NTX_TB % SKCE_NTX_KW_F32 || SKCE_NTX_TB % SKCE_NTX_KW
#error "a similarity tile is made of whole register tiles"
#endif

#define REAL double
#define SFX(name) name##_f64
#define SKW SKCE_NTX_KW               /* panel rows (tile columns) of S */
#define S_TILE SFX(ntx_tile)
#define EXPNEG skce_expneg_f64
#include "ntxent_impl.h"
#undef REAL
#undef SFX
#undef SKW
#undef S_TILE
#undef EXPNEG

#define REAL float
#define SFX(name) name##_f32
#define SKW SKCE_NTX_KW_F32
#define S_TILE skce_ntx_tile_s32
#define EXPNEG skce_expneg_f32
#include "ntxent_impl.h"
#undef REAL
#undef SFX
#undef SKW
#undef S_TILE
#undef EXPNEG

size_t skce_ntxent_work_size(const skce_ntxent_options *opt)
{
    /* a double tile of S and two REAL tiles of W (counted as doubles), two
     * double vectors of a tile's length; grad_rows' row of dim_pad reuses it */
    const size_t tb = SKCE_NTX_TB, tiles = 3 * tb * tb + 2 * tb;
    return tiles > (size_t)opt->dim_pad ? tiles : (size_t)opt->dim_pad;
}

ptrdiff_t skce_ntxent_round_size(ptrdiff_t n_tiles, ptrdiff_t round)
{
    return round == 0 ? n_tiles : (n_tiles + 1) / 2;
}

int skce_ntxent_tile_pair(ptrdiff_t n_tiles, ptrdiff_t round, ptrdiff_t k, ptrdiff_t *I,
                          ptrdiff_t *J)
{
    if (round == 0) {   /* the diagonal tiles */
        *I = *J = k;
        return 1;
    }
    /* round-robin ("circle") schedule of the pairs of ne = n_tiles rounded up
     * to even blocks: in round r, block ne - 1 meets r - 1, and r - 1 + q
     * meets r - 1 - q (mod ne - 1) for q = 1 .. ne/2 - 1.  A block ne - 1 >=
     * n_tiles (odd n_tiles) is a bye. */
    const ptrdiff_t ne = n_tiles + (n_tiles & 1), h = ne - 1, r = round - 1;
    ptrdiff_t x, y;
    if (k == 0) {
        x = r;
        y = h;
    } else {
        x = (r + k) % h;
        y = (r - k + h) % h;
    }
    if (y >= n_tiles) return 0;
    *I = x < y ? x : y;
    *J = x < y ? y : x;
    return 1;
}
