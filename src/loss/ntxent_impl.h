/* NT-Xent (SimCLR) kernels, instantiated by ntxent.c for REAL = double and
 * REAL = float (SFX(name) appends _f64 / _f32).  The products S = u u^T
 * and W u run in SREAL with tiles of SKW columns: double (4 x 12) for
 * double input, float (4 x 24, twice the lanes) for float input, its chunk
 * sums added in double (torch's float32 result is no closer to float64:
 * see tests/test_nt_xent.py).  exp, log-sum-exp and W are computed in
 * double for both (W rounded to float for its product): the gradient sums
 * P_jk + P_kj - 2 [pos], terms of order 1/T that cancel.
 *
 * The 2N stacked rows z_r (z_a then z_b) are first packed (and, with
 * normalize, divided by their norms) into two REAL copies u: row-major with
 * rows padded to Dp = roundup(D, 16) columns, and "panel" layout (16 rows
 * side by side per d) for the S = u u^T / T products.  Both products are
 * register-tiled (4 rows x 16 columns of double accumulators), so plain C
 * vectorizes them; every dot product is a fixed-order sum over d (resp. k)
 * in double, so S[i, k] does not depend on blocking or threads, and
 * S[i, k] == S[k, i] bitwise.
 *
 * Pass 1 (loss_block): rows of S, lse_i = log sum_{k != i} exp(S_ik), and
 *   loss_i = (max_i - S_i,pos) + log(sum_i), pos = i + N mod 2N.
 * Pass 2 (grad_block, needs every lse): rows of S again, then
 *   W_jk = c/T (exp(S_jk - lse_j) + exp(S_jk - lse_k) - 2 [k = pos(j)]),
 *   W_jj = 0, g_j = sum_k W_jk u_k (the gradient wrt u_j), and through the
 *   normalization grad_j = (g_j - (g_j . u_j) u_j) / |z_j|.
 * Work memory per thread: SKCE_NTX_BLOCK rows of S (double) plus their
 * gradient rows; no 2N x 2N matrix is ever formed. */

/* acc[r][c] (+)= sum_{t < K} A[r * lda + t] * B[t * ldb + c] for a 4 x 12
 * tile (r < 4, c < SKCE_NTX_KW = 12), in double, t in increasing order;
 * written to C (row stride ldc).  A is double (packed by the caller), B is
 * REAL.  With GCC/Clang the accumulators are written as vectors (generic
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
 * at most SKCE_NTX_DC / SKCE_NTX_KC terms) is added to C in double when
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
    skce_ntx_vecf v;
    for (int i = 0; i < SKCE_NTX_VWF; i++) v[i] = x;
    return v;
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

/* Rows [r0, r0 + nr4) of S (nr4 a multiple of 4) into s (row stride Mp);
 * ablk (nr4 x D of SREAL, in a buffer of doubles) receives those rows of u
 * (packed in the tile's type, so the tile broadcasts them straight from
 * memory). */
SKCE_INLINE void SFX(ntx_s_rows)(ptrdiff_t r0, ptrdiff_t nr4, const skce_ntxent_options *opt,
                                 const REAL *u, const REAL *up, double *s, double *ablk_buf)
{
    const ptrdiff_t D = opt->dim, Dp = opt->dim_pad, Mp = opt->rows_pad;
    const ptrdiff_t n_panels = Mp / SKW;
    SREAL *ablk = (SREAL *)ablk_buf;
    for (ptrdiff_t q = 0; q < nr4; q++) {
        const REAL *restrict src = u + (r0 + q) * Dp;
        SREAL *restrict dst = ablk + q * D;
        SKCE_SIMD
        for (ptrdiff_t d = 0; d < D; d++) dst[d] = (SREAL)src[d];
    }
    for (ptrdiff_t d0 = 0; d0 < D; d0 += SKCE_NTX_DC) {
        const ptrdiff_t dl = D - d0 < SKCE_NTX_DC ? D - d0 : SKCE_NTX_DC;
        for (ptrdiff_t p = 0; p < n_panels; p++) {
            const REAL *panel = up + p * (D * SKW) + d0 * SKW;
            for (ptrdiff_t t = 0; t < nr4; t += 4)
                S_TILE(dl, ablk + t * D + d0, D, panel, SKW, s + t * Mp + p * SKW, Mp,
                       d0 > 0);
        }
    }
    const double it = opt->inv_temperature;
    const ptrdiff_t len = nr4 * Mp;
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < len; k++) s[k] *= it;
}

SKCE_DISPATCH double SFX(skce_ntxent_loss_block)(ptrdiff_t r0, ptrdiff_t r1,
    const skce_ntxent_options *opt, const REAL *u, const REAL *up, double *lse,
    REAL *loss_out, double *work)
{
    const ptrdiff_t M = 2 * opt->n, Mp = opt->rows_pad;
    const ptrdiff_t nr = r1 - r0, nr4 = (nr + 3) & ~(ptrdiff_t)3;
    double *s = work;
    SFX(ntx_s_rows)(r0, nr4, opt, u, up, s, work + SKCE_NTX_BLOCK * Mp);
    double total = 0.0;
    for (ptrdiff_t q = 0; q < nr; q++) {
        const ptrdiff_t i = r0 + q, pos = i < opt->n ? i + opt->n : i - opt->n;
        double *restrict row = s + q * Mp;
        const double spos = row[pos];
        row[i] = -INFINITY;   /* self-similarity is not a candidate */
        double m = -INFINITY;
        SKCE_SIMD_REDUCTION(max, m)
        for (ptrdiff_t k = 0; k < M; k++) m = row[k] > m ? row[k] : m;
        double acc = 0.0;
        SKCE_SIMD_REDUCTION(+, acc)
        for (ptrdiff_t k = 0; k < M; k++) acc += skce_exp_f64(row[k] - m);
        const double log_s = log(acc);
        if (lse) lse[i] = m + log_s;
        const double loss = (m - spos) + log_s;
        if (loss_out) loss_out[i] = (REAL)loss;
        total += loss;
    }
    return total;
}

SKCE_DISPATCH void SFX(skce_ntxent_grad_block)(ptrdiff_t r0, ptrdiff_t r1,
    const skce_ntxent_options *opt, const REAL *a, skce_strides2 as, const REAL *b,
    skce_strides2 bs, const REAL *u, const REAL *up, const double *norms, const double *lse,
    REAL *grad_a, skce_strides2 gas, REAL *grad_b, skce_strides2 gbs, double *work)
{
    const ptrdiff_t M = 2 * opt->n, Mp = opt->rows_pad, D = opt->dim, Dp = opt->dim_pad;
    const ptrdiff_t nr = r1 - r0, nr4 = (nr + 3) & ~(ptrdiff_t)3;
    const double cT = opt->grad_scale * opt->inv_temperature;
    double *w = work;                                /* nr4 x Mp: S, then W */
    double *g = work + SKCE_NTX_BLOCK * Mp;          /* nr4 x Dp (first the packed rows) */
    double *ub = g + SKCE_NTX_BLOCK * Dp;             /* Dp */
    /* W in the tile's type: w itself for double, a float copy (row stride
     * Mp) after ub for float */
    SREAL *wt = SKW == SKCE_NTX_KW ? (SREAL *)w : (SREAL *)(ub + Dp);
    SFX(ntx_s_rows)(r0, nr4, opt, u, up, w, g);
    for (ptrdiff_t q = 0; q < nr; q++) {
        const ptrdiff_t j = r0 + q, pos = j < opt->n ? j + opt->n : j - opt->n;
        double *restrict row = w + q * Mp;
        const double lj = lse[j];
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < M; k++) {
            const double sk = row[k];
            row[k] = cT * (skce_exp_f64(sk - lj) + skce_exp_f64(sk - lse[k]));
        }
        row[j] = 0.0;
        row[pos] -= 2.0 * cT;
        if ((void *)wt != (void *)w) {
            SREAL *restrict wq = wt + q * Mp;
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < M; k++) wq[k] = (SREAL)row[k];
        }
    }
    for (ptrdiff_t q = nr; q < nr4; q++)
        for (ptrdiff_t k = 0; k < M; k++) wt[q * Mp + k] = 0;
    /* g = W u: k in chunks (a chunk of u stays in cache across row tiles) */
    for (ptrdiff_t k0 = 0; k0 < M; k0 += SKCE_NTX_KC) {
        const ptrdiff_t kl = M - k0 < SKCE_NTX_KC ? M - k0 : SKCE_NTX_KC;
        for (ptrdiff_t c0 = 0; c0 < Dp; c0 += SKW)
            for (ptrdiff_t t = 0; t < nr4; t += 4)
                S_TILE(kl, wt + t * Mp + k0, Mp, u + k0 * Dp + c0, Dp, g + t * Dp + c0, Dp,
                       k0 > 0);
    }
    for (ptrdiff_t q = 0; q < nr; q++) {
        const ptrdiff_t j = r0 + q;
        const double *restrict gj = g + q * Dp;
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
