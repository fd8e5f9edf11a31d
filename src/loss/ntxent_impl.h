/* NT-Xent (SimCLR) kernels, instantiated by ntxent.c for REAL = double and
 * REAL = float (SFX(name) appends _f64 / _f32), each computing in REAL: the
 * products S = u u^T / T and W u run in REAL register tiles of SKW columns
 * (double 4 x 12, float 4 x 24: twice the lanes), their chunk sums added in
 * double.  The exponentials and W are REAL, of arguments S - shift formed in
 * double (S and the shifts are ~1/T, their differences small) and summed in
 * double (in float, 1 + exp(-20) = 1 would make a loss of 4e-9 zero).
 *
 * The 2N stacked rows z_r (z_a then z_b) are first packed (and, with
 * normalize, divided by their norms) into two REAL copies u: row-major with
 * rows padded to dim_pad columns, and "panel" layout (SKW rows side by side
 * per d) for the S products.  Every element of S is a fixed-order sum over
 * d, independent of blocking and threads.
 *
 * S and W are symmetric, so the kernels work on the tiles (I, J), I <= J, of
 * a fixed partition of the rows_pad rows into blocks of SKCE_NTX_TB (padding
 * rows are zero and masked): each similarity is computed once per pass, and
 * a tile updates the rows of block I (its rows) and of block J (its columns).
 * The caller runs the tiles in rounds in which every block occurs once
 * (skce_ntxent_tile_pair), so a round's tiles are independent and each row
 * receives its tiles' contributions in the fixed round order, whatever the
 * number of threads.
 *
 * Pass 1 (lse_tile): running (max m_i, sum s_i of exp(S_ik - m_i)) per row,
 *   k != i; lse_finish: lse_i = m_i + log s_i, loss_i = (m_i - S_i,pos) +
 *   log s_i, pos = i + N mod 2N.
 * Pass 2 (grad_tile, needs every lse): the tile of S again, then
 *   W_jk = c/T (exp(S_jk - lse_j) + exp(S_jk - lse_k) - 2 [k = pos(j)]),
 *   W_jj = 0, accumulating g_j = sum_k W_jk u_k (the gradient wrt u_j, in
 *   double); grad_rows maps it through the normalization,
 *   grad_j = (g_j - (g_j . u_j) u_j) / |z_j|.
 * Work memory per thread: three TB x TB tiles; the 2N x 2N matrix is never
 * formed (S is recomputed in pass 2 instead of stored). */

/* acc[r][c] (+)= sum_{t < K} A[r * lda + t] * B[t * ldb + c] for a 4 x 12
 * tile (r < 4, c < SKCE_NTX_KW = 12), in double, t in increasing order;
 * written to C (row stride ldc).  A is double, B is REAL.  With GCC/Clang the accumulators are written as vectors (generic
 * vector extension): 12 registers of 4 doubles (AVX2; also the x86-64-v3
 * clone of the dispatch build), or, for a baseline-only x86-64 build with
 * 16 SSE registers, two passes over 6 columns with 2-double vectors; the
 * compiler's own vectorization spills this tile.  Elsewhere plain loops.
 * Each element is the same sequential sum in every variant. */
#if SKCE_NTX_KW != 12
#error "the NT-Xent register tile is 4 x 12"
#endif
#ifndef SKCE_NTX_TILE
#if defined(__GNUC__)
#if defined(__x86_64__) && !defined(__AVX__) && !defined(SKCE_ENABLE_DISPATCH)
#define SKCE_NTX_VW 2
typedef double skce_ntx_vec __attribute__((vector_size(16)));
#define SKCE_NTX_SPLAT(x) ((skce_ntx_vec){(x), (x)})
#define SKCE_NTX_CVT(p) ((skce_ntx_vec){(double)(p)[0], (double)(p)[1]})
#else
#define SKCE_NTX_VW 4
typedef double skce_ntx_vec __attribute__((vector_size(32)));
#define SKCE_NTX_SPLAT(x) ((skce_ntx_vec){(x), (x), (x), (x)})
#define SKCE_NTX_CVT(p) \
    ((skce_ntx_vec){(double)(p)[0], (double)(p)[1], (double)(p)[2], (double)(p)[3]})
#endif
/* vector loads/stores of doubles (unaligned), and of REAL converted to double */
#define SKCE_NTX_LD(v, p) memcpy(&(v), (p), sizeof(skce_ntx_vec))
#define SKCE_NTX_ST(p, v) memcpy((p), &(v), sizeof(skce_ntx_vec))

#define SKCE_NTX_TILE(NAME)                                                                 \
    SKCE_INLINE void NAME(ptrdiff_t K, const double *restrict A, ptrdiff_t lda,            \
                          const REAL *restrict B, ptrdiff_t ldb, double *restrict C,        \
                          ptrdiff_t ldc, int accumulate)                                    \
    {                                                                                       \
        const double *A0 = A, *A1 = A + lda, *A2 = A + 2 * lda, *A3 = A + 3 * lda;          \
        for (int c0 = 0; c0 < SKCE_NTX_KW; c0 += 3 * SKCE_NTX_VW) {                         \
            double *C0 = C + c0, *C1 = C0 + ldc, *C2 = C1 + ldc, *C3 = C2 + ldc;            \
            const int w = SKCE_NTX_VW;                                                      \
            skce_ntx_vec c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;        \
            if (accumulate) {                                                               \
                SKCE_NTX_LD(c00, C0); SKCE_NTX_LD(c01, C0 + w); SKCE_NTX_LD(c02, C0 + 2 * w); \
                SKCE_NTX_LD(c10, C1); SKCE_NTX_LD(c11, C1 + w); SKCE_NTX_LD(c12, C1 + 2 * w); \
                SKCE_NTX_LD(c20, C2); SKCE_NTX_LD(c21, C2 + w); SKCE_NTX_LD(c22, C2 + 2 * w); \
                SKCE_NTX_LD(c30, C3); SKCE_NTX_LD(c31, C3 + w); SKCE_NTX_LD(c32, C3 + 2 * w); \
            } else {                                                                        \
                c00 = c01 = c02 = c10 = c11 = c12 = SKCE_NTX_SPLAT(0.0);                    \
                c20 = c21 = c22 = c30 = c31 = c32 = SKCE_NTX_SPLAT(0.0);                    \
            }                                                                               \
            for (ptrdiff_t t = 0; t < K; t++) {                                             \
                const REAL *b = B + t * ldb + c0;                                           \
                const skce_ntx_vec b0 = SKCE_NTX_CVT(b), b1 = SKCE_NTX_CVT(b + w),          \
                                   b2 = SKCE_NTX_CVT(b + 2 * w);                            \
                skce_ntx_vec a = SKCE_NTX_SPLAT(A0[t]);                                     \
                c00 += a * b0; c01 += a * b1; c02 += a * b2;                                \
                a = SKCE_NTX_SPLAT(A1[t]);                                                  \
                c10 += a * b0; c11 += a * b1; c12 += a * b2;                                \
                a = SKCE_NTX_SPLAT(A2[t]);                                                  \
                c20 += a * b0; c21 += a * b1; c22 += a * b2;                                \
                a = SKCE_NTX_SPLAT(A3[t]);                                                  \
                c30 += a * b0; c31 += a * b1; c32 += a * b2;                                \
            }                                                                               \
            SKCE_NTX_ST(C0, c00); SKCE_NTX_ST(C0 + w, c01); SKCE_NTX_ST(C0 + 2 * w, c02);   \
            SKCE_NTX_ST(C1, c10); SKCE_NTX_ST(C1 + w, c11); SKCE_NTX_ST(C1 + 2 * w, c12);   \
            SKCE_NTX_ST(C2, c20); SKCE_NTX_ST(C2 + w, c21); SKCE_NTX_ST(C2 + 2 * w, c22);   \
            SKCE_NTX_ST(C3, c30); SKCE_NTX_ST(C3 + w, c31); SKCE_NTX_ST(C3 + 2 * w, c32);   \
        }                                                                                   \
    }
#else
#define SKCE_NTX_TILE(NAME)                                                                 \
    SKCE_INLINE void NAME(ptrdiff_t K, const double *restrict A, ptrdiff_t lda,             \
                          const REAL *restrict B, ptrdiff_t ldb, double *restrict C,        \
                          ptrdiff_t ldc, int accumulate)                                    \
    {                                                                                       \
        double acc[4][SKCE_NTX_KW];                                                         \
        for (int r = 0; r < 4; r++)                                                         \
            for (int c = 0; c < SKCE_NTX_KW; c++)                                           \
                acc[r][c] = accumulate ? C[r * ldc + c] : 0.0;                              \
        for (ptrdiff_t t = 0; t < K; t++)                                                   \
            for (int r = 0; r < 4; r++) {                                                   \
                const double a = (double)A[r * lda + t];                                    \
                for (int c = 0; c < SKCE_NTX_KW; c++)                                       \
                    acc[r][c] += a * (double)B[t * ldb + c];                                \
            }                                                                               \
        for (int r = 0; r < 4; r++)                                                         \
            for (int c = 0; c < SKCE_NTX_KW; c++) C[r * ldc + c] = acc[r][c];               \
    }
#endif

/* The float32 tile of S = u u^T and of W u: as SKCE_NTX_TILE with A, B and
 * the accumulators in float (8-lane vectors; twice the lanes of double),
 * 4 x 24 (r < 4, c < SKCE_NTX_KW_F32); the float sum over t (one chunk of
 * at most SKCE_NTX_DC / SKCE_NTX_TB terms) is added to C in double when
 * `accumulate`, so long sums do not pile up float rounding.  Each element
 * is one fixed-order sum. */
#if SKCE_NTX_KW_F32 != 24
#error "the float NT-Xent register tile is 4 x 24"
#endif
#if defined(__GNUC__)
#if SKCE_NTX_VW == 2
#define SKCE_NTX_VWF 4
typedef float skce_ntx_vecf __attribute__((vector_size(16)));
#else
#define SKCE_NTX_VWF 8
typedef float skce_ntx_vecf __attribute__((vector_size(32)));
#endif
SKCE_INLINE skce_ntx_vecf skce_ntx_splatf(float x)
{
    /* vector + scalar broadcasts (one vbroadcastss; a loop over the lanes
     * compiled to a chain of inserts that cost as much as the FMAs) */
    return (skce_ntx_vecf){0} + x;
}
SKCE_INLINE skce_ntx_vecf skce_ntx_ldf(const float *p)
{
    skce_ntx_vecf v;
    memcpy(&v, p, sizeof v);
    return v;
}
SKCE_INLINE void skce_ntx_st_dbl(double *p, skce_ntx_vecf v, int accumulate)
{
    for (int i = 0; i < SKCE_NTX_VWF; i++) p[i] = (accumulate ? p[i] : 0.0) + (double)v[i];
}
SKCE_INLINE void skce_ntx_tile_s32(ptrdiff_t K, const float *restrict A, ptrdiff_t lda,
                                   const float *restrict B, ptrdiff_t ldb, double *restrict C,
                                   ptrdiff_t ldc, int accumulate)
{
    const float *A0 = A, *A1 = A + lda, *A2 = A + 2 * lda, *A3 = A + 3 * lda;
    const int w = SKCE_NTX_VWF;
    for (int c0 = 0; c0 < SKCE_NTX_KW_F32; c0 += 3 * SKCE_NTX_VWF) {
        double *C0 = C + c0, *C1 = C0 + ldc, *C2 = C1 + ldc, *C3 = C2 + ldc;
        skce_ntx_vecf c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        c00 = c01 = c02 = c10 = c11 = c12 = skce_ntx_splatf(0.0f);
        c20 = c21 = c22 = c30 = c31 = c32 = skce_ntx_splatf(0.0f);
        for (ptrdiff_t t = 0; t < K; t++) {
            const float *b = B + t * ldb + c0;
            const skce_ntx_vecf b0 = skce_ntx_ldf(b), b1 = skce_ntx_ldf(b + w),
                                b2 = skce_ntx_ldf(b + 2 * w);
            skce_ntx_vecf a = skce_ntx_splatf(A0[t]);
            c00 += a * b0; c01 += a * b1; c02 += a * b2;
            a = skce_ntx_splatf(A1[t]);
            c10 += a * b0; c11 += a * b1; c12 += a * b2;
            a = skce_ntx_splatf(A2[t]);
            c20 += a * b0; c21 += a * b1; c22 += a * b2;
            a = skce_ntx_splatf(A3[t]);
            c30 += a * b0; c31 += a * b1; c32 += a * b2;
        }
        const int ac = accumulate;
        skce_ntx_st_dbl(C0, c00, ac); skce_ntx_st_dbl(C0 + w, c01, ac); skce_ntx_st_dbl(C0 + 2 * w, c02, ac);
        skce_ntx_st_dbl(C1, c10, ac); skce_ntx_st_dbl(C1 + w, c11, ac); skce_ntx_st_dbl(C1 + 2 * w, c12, ac);
        skce_ntx_st_dbl(C2, c20, ac); skce_ntx_st_dbl(C2 + w, c21, ac); skce_ntx_st_dbl(C2 + 2 * w, c22, ac);
        skce_ntx_st_dbl(C3, c30, ac); skce_ntx_st_dbl(C3 + w, c31, ac); skce_ntx_st_dbl(C3 + 2 * w, c32, ac);
    }
}
#else
SKCE_INLINE void skce_ntx_tile_s32(ptrdiff_t K, const float *restrict A, ptrdiff_t lda,
                                   const float *restrict B, ptrdiff_t ldb, double *restrict C,
                                   ptrdiff_t ldc, int accumulate)
{
    float acc[4][SKCE_NTX_KW_F32];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < SKCE_NTX_KW_F32; c++) acc[r][c] = 0.0f;
    for (ptrdiff_t t = 0; t < K; t++)
        for (int r = 0; r < 4; r++) {
            const float a = A[r * lda + t];
            for (int c = 0; c < SKCE_NTX_KW_F32; c++) acc[r][c] += a * B[t * ldb + c];
        }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < SKCE_NTX_KW_F32; c++)
            C[r * ldc + c] = (accumulate ? C[r * ldc + c] : 0.0) + (double)acc[r][c];
}
#endif
#endif

SKCE_NTX_TILE(SFX(ntx_tile))

/* Stacked row r of [a; b]. */
SKCE_INLINE const REAL *SFX(ntx_row)(const skce_ntxent_options *opt, const REAL *a,
                                     skce_strides2 as, const REAL *b, skce_strides2 bs,
                                     ptrdiff_t r, ptrdiff_t *col_stride)
{
    if (r < opt->n) {
        *col_stride = as.cls;
        return a + r * as.sample;
    }
    *col_stride = bs.cls;
    return b + (r - opt->n) * bs.sample;
}

SKCE_DISPATCH ptrdiff_t SFX(skce_ntxent_pack_block)(ptrdiff_t r0, ptrdiff_t r1,
    const skce_ntxent_options *opt, const REAL *a, skce_strides2 as, const REAL *b,
    skce_strides2 bs, REAL *u, REAL *up, double *norms)
{
    const ptrdiff_t D = opt->dim, Dp = opt->dim_pad;
    ptrdiff_t bad = -1;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t cs;
        const REAL *x = SFX(ntx_row)(opt, a, as, b, bs, r, &cs);
        REAL *ur = u + r * Dp;
        REAL *pr = up + (r / SKW) * (D * SKW) + r % SKW;
        /* the row is first copied (exactly) into u, so the norm's sum runs
         * over contiguous memory whatever the input layout: the compiler may
         * treat strided and contiguous loops differently (FMA or not) */
        for (ptrdiff_t d = 0; d < D; d++) ur[d] = x[d * cs];
        double nrm = 1.0;
        if (opt->normalize) {
            double ss = 0.0;
            for (ptrdiff_t d = 0; d < D; d++) {
                double v = (double)ur[d];
                ss += v * v;
            }
            if (!(ss >= 0x1p-1000 && ss <= 0x1p1000)) {
                /* x^2 under- or overflows: scale by the largest |x_d| first */
                double amax = 0.0;
                for (ptrdiff_t d = 0; d < D; d++) {
                    double v = fabs((double)ur[d]);
                    amax = v > amax ? v : amax;
                }
                ss = 0.0;
                if (amax > 0.0) {
                    for (ptrdiff_t d = 0; d < D; d++) {
                        double v = (double)ur[d] / amax;
                        ss += v * v;
                    }
                }
                nrm = amax * sqrt(ss);
            } else {
                nrm = sqrt(ss);
            }
            if (!(nrm > 0.0)) {
                if (bad < 0) bad = r;
                nrm = 1.0;
            }
            for (ptrdiff_t d = 0; d < D; d++) ur[d] = (REAL)((double)ur[d] / nrm);
        }
        norms[r] = nrm;
        for (ptrdiff_t d = 0; d < D; d++) pr[d * SKW] = ur[d];
    }
    return bad;
}

/* The similarity tile (I, J): rows [I0, I0 + TB) x columns [J0, J0 + TB) of
 * S = u u^T / T into s (TB x TB, double: the products' chunk sums).  Each
 * element is one fixed-order sum over d, so the tile does not depend on
 * which thread computes it. */
SKCE_INLINE void SFX(ntx_s_tile)(ptrdiff_t I0, ptrdiff_t J0, const skce_ntxent_options *opt,
                                 const REAL *u, const REAL *up, double *s)
{
    const ptrdiff_t D = opt->dim, Dp = opt->dim_pad, TB = SKCE_NTX_TB;
    for (ptrdiff_t d0 = 0; d0 < D; d0 += SKCE_NTX_DC) {
        const ptrdiff_t dl = D - d0 < SKCE_NTX_DC ? D - d0 : SKCE_NTX_DC;
        for (ptrdiff_t p = 0; p < TB / SKW; p++) {
            const REAL *panel = up + (J0 / SKW + p) * (D * SKW) + d0 * SKW;
            for (ptrdiff_t t = 0; t < TB; t += 4)
                S_TILE(dl, u + (I0 + t) * Dp + d0, Dp, panel, SKW, s + t * TB + p * SKW, TB,
                       d0 > 0);
        }
    }
    const double it = opt->inv_temperature;
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < TB * TB; k++) s[k] *= it;
}

SKCE_INLINE ptrdiff_t SFX(ntx_pos)(const skce_ntxent_options *opt, ptrdiff_t i)
{
    return i < opt->n ? i + opt->n : i - opt->n;
}

/* Running log-sum-exp of a row, (m, s) = (max so far, sum of exp(x - m)):
 * rescaled to the new max mn, plus the tile's terms t (shifted by mn). */
SKCE_INLINE void SFX(ntx_lse_add)(double *m, double *s, double mn, double t)
{
    *s = *s * skce_expneg_f64(*m - mn) + t;   /* m = -inf (no terms yet): 0 */
    *m = mn;
}

SKCE_DISPATCH void SFX(skce_ntxent_lse_tile)(ptrdiff_t round, ptrdiff_t k,
    const skce_ntxent_options *opt, const REAL *u, const REAL *up, double *m, double *s,
    double *spos, double *work)
{
    ptrdiff_t I, J;
    if (!skce_ntxent_tile_pair(opt->rows_pad / SKCE_NTX_TB, round, k, &I, &J)) return;
    const ptrdiff_t M = 2 * opt->n, TB = SKCE_NTX_TB, I0 = I * TB, J0 = J * TB;
    const ptrdiff_t nr = M - I0 < TB ? M - I0 : TB, nc = M - J0 < TB ? M - J0 : TB;
    double *st = work, *cm = work + TB * TB, *cs = cm + TB;
    SFX(ntx_s_tile)(I0, J0, opt, u, up, st);
    /* candidates only: the diagonal and the padding get -inf */
    if (I == J)
        for (ptrdiff_t r = 0; r < TB; r++) st[r * TB + r] = -INFINITY;
    for (ptrdiff_t r = 0; r < TB; r++)
        for (ptrdiff_t c = r < nr ? nc : 0; c < TB; c++) st[r * TB + c] = -INFINITY;
    for (ptrdiff_t r = 0; r < nr; r++) {
        const ptrdiff_t p = SFX(ntx_pos)(opt, I0 + r) - J0;
        if (p >= 0 && p < nc) spos[I0 + r] = st[r * TB + p];
    }
    /* rows of block I: the tile's rows.  Exponentials in REAL of the shifted
     * logits (formed in double), summed in double. */
    for (ptrdiff_t r = 0; r < nr; r++) {
        const double *restrict row = st + r * TB;
        double mn = m[I0 + r];
        SKCE_SIMD_REDUCTION(max, mn)
        for (ptrdiff_t c = 0; c < TB; c++) mn = row[c] > mn ? row[c] : mn;
        double t = 0.0;
        SKCE_SIMD_REDUCTION(+, t)
        for (ptrdiff_t c = 0; c < TB; c++) t += (double)EXPNEG((REAL)(row[c] - mn));
        SFX(ntx_lse_add)(m + I0 + r, s + I0 + r, mn, t);
    }
    if (I == J) return;
    /* rows of block J (I < J): the tile's columns, by symmetry */
    for (ptrdiff_t c = 0; c < nc; c++) {
        const ptrdiff_t p = SFX(ntx_pos)(opt, J0 + c) - I0;
        if (p >= 0 && p < nr) spos[J0 + c] = st[p * TB + c];
    }
    for (ptrdiff_t c = 0; c < TB; c++) {
        cm[c] = c < nc ? m[J0 + c] : 0.0;   /* padding columns: exp(-inf - 0) = 0 */
        cs[c] = 0.0;
    }
    for (ptrdiff_t r = 0; r < nr; r++) {
        const double *restrict row = st + r * TB;
        SKCE_SIMD
        for (ptrdiff_t c = 0; c < TB; c++) cm[c] = row[c] > cm[c] ? row[c] : cm[c];
    }
    for (ptrdiff_t r = 0; r < nr; r++) {
        const double *restrict row = st + r * TB;
        SKCE_SIMD
        for (ptrdiff_t c = 0; c < TB; c++) cs[c] += (double)EXPNEG((REAL)(row[c] - cm[c]));
    }
    for (ptrdiff_t c = 0; c < nc; c++) SFX(ntx_lse_add)(m + J0 + c, s + J0 + c, cm[c], cs[c]);
}

double SFX(skce_ntxent_lse_finish)(const skce_ntxent_options *opt, const double *m,
                                    const double *s, const double *spos, double *lse,
                                    REAL *loss_out)
{
    const ptrdiff_t M = 2 * opt->n;
    double total = 0.0;
    for (ptrdiff_t i = 0; i < M; i++) {
        const double log_s = log(s[i]);
        const double loss = (m[i] - spos[i]) + log_s;
        if (lse) lse[i] = m[i] + log_s;
        if (loss_out) loss_out[i] = (REAL)loss;
        total += loss;
    }
    /* padding rows: exp(S - lse) = 0, so their W terms vanish */
    if (lse)
        for (ptrdiff_t i = M; i < opt->rows_pad; i++) lse[i] = INFINITY;
    return total;
}

/* g_rows += w (TB x TB, row stride TB) times the TB rows of u from u_rows. */
SKCE_INLINE void SFX(ntx_w_times_u)(const skce_ntxent_options *opt, const REAL *w,
                                    const REAL *u_rows, double *g_rows)
{
    const ptrdiff_t Dp = opt->dim_pad, TB = SKCE_NTX_TB;
    for (ptrdiff_t c0 = 0; c0 < Dp; c0 += SKW)
        for (ptrdiff_t t = 0; t < TB; t += 4)
            S_TILE(TB, w + t * TB, TB, u_rows + c0, Dp, g_rows + t * Dp + c0, Dp, 1);
}

SKCE_DISPATCH void SFX(skce_ntxent_grad_tile)(ptrdiff_t round, ptrdiff_t k,
    const skce_ntxent_options *opt, const REAL *u, const REAL *up, const double *lse,
    double *g, double *work)
{
    ptrdiff_t I, J;
    if (!skce_ntxent_tile_pair(opt->rows_pad / SKCE_NTX_TB, round, k, &I, &J)) return;
    const ptrdiff_t M = 2 * opt->n, Dp = opt->dim_pad, TB = SKCE_NTX_TB;
    const ptrdiff_t I0 = I * TB, J0 = J * TB, nr = M - I0 < TB ? M - I0 : TB;
    const double cT = opt->grad_scale * opt->inv_temperature;
    double *st = work;
    REAL *w = (REAL *)(work + TB * TB), *wt = (REAL *)(work + 2 * TB * TB);
    const double *lc = lse + J0;
    SFX(ntx_s_tile)(I0, J0, opt, u, up, st);
    /* W = c/T (P_jk + P_kj - 2 [k = pos(j)]) is symmetric: one tile serves
     * g_I += W u_J and g_J += W^T u_I.  P in REAL from the shifted logits
     * formed in double (S - lse <= 0 off the diagonal, whose terms are then
     * set to 0). */
    for (ptrdiff_t r = 0; r < TB; r++) {
        const double *restrict srow = st + r * TB;
        REAL *restrict row = w + r * TB;
        const double l = lse[I0 + r];
        SKCE_SIMD
        for (ptrdiff_t c = 0; c < TB; c++)
            row[c] = (REAL)cT * (EXPNEG((REAL)(srow[c] - l)) + EXPNEG((REAL)(srow[c] - lc[c])));
    }
    if (I == J)
        for (ptrdiff_t r = 0; r < TB; r++) w[r * TB + r] = 0;
    /* the positives in double: P + P' - 2 cancels (P near 1 for a good fit) */
    for (ptrdiff_t r = 0; r < nr; r++) {
        const ptrdiff_t i = I0 + r, p = SFX(ntx_pos)(opt, i) - J0;
        if (p >= 0 && p < TB) {
            const double x = st[r * TB + p];
            w[r * TB + p] = (REAL)(cT * ((skce_expneg_f64(x - lse[i]) - 1.0)
                                          + (skce_expneg_f64(x - lc[p]) - 1.0)));
        }
    }
    SFX(ntx_w_times_u)(opt, w, u + J0 * Dp, g + I0 * Dp);
    if (I == J) return;
    for (ptrdiff_t r = 0; r < TB; r++)
        for (ptrdiff_t c = 0; c < TB; c++) wt[c * TB + r] = w[r * TB + c];
    SFX(ntx_w_times_u)(opt, wt, u + I0 * Dp, g + J0 * Dp);
}

SKCE_DISPATCH void SFX(skce_ntxent_grad_rows)(ptrdiff_t r0, ptrdiff_t r1,
    const skce_ntxent_options *opt, const REAL *a, skce_strides2 as, const REAL *b,
    skce_strides2 bs, const double *norms, const double *g, REAL *grad_a, skce_strides2 gas,
    REAL *grad_b, skce_strides2 gbs, double *ub)
{
    const ptrdiff_t D = opt->dim, Dp = opt->dim_pad;
    for (ptrdiff_t j = r0; j < r1; j++) {
        const double *restrict gj = g + j * Dp;
        REAL *out;
        ptrdiff_t os;
        if (j < opt->n) {
            out = grad_a + j * gas.sample;
            os = gas.cls;
        } else {
            out = grad_b + (j - opt->n) * gbs.sample;
            os = gbs.cls;
        }
        if (opt->normalize) {
            /* through u = z / |z|: (g - (g . u) u) / |z|, u recomputed in
             * double into a contiguous buffer (the same code for any layout) */
            ptrdiff_t cs;
            const REAL *x = SFX(ntx_row)(opt, a, as, b, bs, j, &cs);
            const double nrm = norms[j];
            for (ptrdiff_t d = 0; d < D; d++) ub[d] = (double)x[d * cs] / nrm;
            double dot = 0.0;
            for (ptrdiff_t d = 0; d < D; d++) dot += gj[d] * ub[d];
            for (ptrdiff_t d = 0; d < D; d++) ub[d] = (gj[d] - dot * ub[d]) / nrm;
            for (ptrdiff_t d = 0; d < D; d++) out[d * os] = (REAL)ub[d];
        } else {
            for (ptrdiff_t d = 0; d < D; d++) out[d * os] = (REAL)gj[d];
        }
    }
}
