/* Minibatch products with few outputs, instantiated by dense.c for REAL =
 * double and float:
 *     Z[r, :K] += A[r, :] W          (logits; W is d x Kp, zero-padded)
 *     D[j, :K]  = sum_r A[r, j] G[r, :]   (weight gradient, rows j0 .. j1)
 * A is row-major with leading dimension lda; Z and G have row stride Kp
 * (K rounded up to whole SIMD vectors; the padding columns of G are read,
 * their results dropped).  With K around 10, BLAS runs these skinny shapes
 * at a fraction of the machine's speed (OpenBLAS dgemm: ~10 GFLOP/s here);
 * these kernels keep a 4 x (up to 3 vectors) block of results in registers.
 * Each result is a sum in a fixed order (over j, resp. r), so any split of
 * the rows (forward) or of the features (backward) gives the same bits. */

typedef REAL SFX(skce_vec) __attribute__((vector_size(32)));
#define V SFX(skce_vec)
#define VL ((ptrdiff_t)(32 / sizeof(REAL)))

SKCE_INLINE V SFX(loadv)(const REAL *p)
{
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}

SKCE_INLINE void SFX(set_lanes)(REAL *restrict out, const V *acc, int nv, ptrdiff_t nc)
{
    REAL tmp[3 * 32 / sizeof(REAL)];
    memcpy(tmp, acc, (size_t)nv * sizeof(V));
    for (ptrdiff_t c = 0; c < nc; c++)
        out[c] = tmp[c];
}

SKCE_INLINE void SFX(prefetch_rows)(const REAL *a, ptrdiff_t lda, ptrdiff_t d)
{
    for (int i = 0; i < 4; i++)
        for (ptrdiff_t j = 0; j < d; j += 64 / (ptrdiff_t)sizeof(REAL))
            __builtin_prefetch(a + i * lda + j, 0, 3);
}

/* Z[r, c0 .. c0 + NV VL) = A[r, :] W[:, c0 ..] + bias[c0 ..] for r < n, in
 * whole vectors: the accumulators start at the bias and are stored once, so
 * Z is neither initialized nor read back (at d = 16 that read-modify-write
 * of the padded rows cost as much as the products). */
#define SKCE_FWD(NV)                                                                          \
    SKCE_INLINE void SFX(fwd_##NV)(ptrdiff_t n, ptrdiff_t d, const REAL *A, ptrdiff_t lda,    \
                                   const REAL *W, ptrdiff_t Kp, ptrdiff_t c0,                 \
                                   const REAL *bias, REAL *Z)                                 \
    {                                                                                         \
        V bv[NV];                                                                             \
        for (int v = 0; v < NV; v++)                                                          \
            bv[v] = SFX(loadv)(bias + c0 + v * VL);                                           \
        ptrdiff_t r = 0;                                                                      \
        for (; r + 4 <= n; r += 4) {                                                          \
            const REAL *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;     \
            V acc[4][NV];                                                                     \
            for (int i = 0; i < 4; i++)                                                       \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[i][v] = bv[v];                                                        \
            if (r + 8 <= n)   /* A may be X itself, streamed from memory: the next rows */    \
                SFX(prefetch_rows)(A + (r + 4) * lda, lda, d);                                \
            for (ptrdiff_t j = 0; j < d; j++) {                                               \
                /* NV vectors of W, then one broadcast at a time: 4 NV + NV + 1 <= 16  \
                 * registers, no accumulator spilled */                                       \
                V wv[NV];                                                                     \
                for (int v = 0; v < NV; v++)                                                  \
                    wv[v] = SFX(loadv)(W + j * Kp + c0 + v * VL);                             \
                const REAL x0 = a0[j];                                                        \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[0][v] += x0 * wv[v];                                                  \
                const REAL x1 = a1[j];                                                        \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[1][v] += x1 * wv[v];                                                  \
                const REAL x2 = a2[j];                                                        \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[2][v] += x2 * wv[v];                                                  \
                const REAL x3 = a3[j];                                                        \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[3][v] += x3 * wv[v];                                                  \
            }                                                                                 \
            for (int i = 0; i < 4; i++)                                                       \
                memcpy(Z + (r + i) * Kp + c0, acc[i], sizeof acc[i]);                         \
        }                                                                                     \
        for (; r < n; r++) {                                                                  \
            const REAL *a0 = A + r * lda;                                                     \
            V acc[NV];                                                                        \
            for (int v = 0; v < NV; v++)                                                      \
                acc[v] = bv[v];                                                               \
            for (ptrdiff_t j = 0; j < d; j++)                                                 \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[v] += a0[j] * SFX(loadv)(W + j * Kp + c0 + v * VL);                   \
            memcpy(Z + r * Kp + c0, acc, sizeof acc);                                         \
        }                                                                                     \
    }

/* D[j, c0 .. c0 + nc) = sum_r A[r, j] G[r, c0 ..] for j0 <= j < j1. */
#define SKCE_BWD(NV)                                                                          \
    SKCE_INLINE void SFX(bwd_##NV)(ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1, const REAL *A,    \
                                   ptrdiff_t lda, const REAL *G, ptrdiff_t Kp, ptrdiff_t c0,  \
                                   ptrdiff_t nc, REAL *D, ptrdiff_t K)                        \
    {                                                                                         \
        ptrdiff_t j = j0;                                                                     \
        for (; j + 4 <= j1; j += 4) {                                                         \
            V acc[4][NV];                                                                     \
            memset(acc, 0, sizeof acc);                                                       \
            for (ptrdiff_t r = 0; r < n; r++) {                                               \
                const REAL *a = A + r * lda + j;                                              \
                V gv[NV];                                                                     \
                for (int v = 0; v < NV; v++)                                                  \
                    gv[v] = SFX(loadv)(G + r * Kp + c0 + v * VL);                             \
                for (int i = 0; i < 4; i++) {                                                 \
                    const REAL x = a[i];                                                      \
                    for (int v = 0; v < NV; v++)                                              \
                        acc[i][v] += x * gv[v];                                               \
                }                                                                             \
            }                                                                                 \
            for (int i = 0; i < 4; i++)                                                       \
                SFX(set_lanes)(D + (j + i) * K + c0, acc[i], NV, nc);                         \
        }                                                                                     \
        for (; j < j1; j++) {                                                                 \
            V acc[NV];                                                                        \
            memset(acc, 0, sizeof acc);                                                       \
            for (ptrdiff_t r = 0; r < n; r++)                                                 \
                for (int v = 0; v < NV; v++)                                                  \
                    acc[v] += A[r * lda + j] * SFX(loadv)(G + r * Kp + c0 + v * VL);          \
            SFX(set_lanes)(D + j * K + c0, acc, NV, nc);                                      \
        }                                                                                     \
    }

SKCE_FWD(1)
SKCE_FWD(2)
SKCE_FWD(3)
SKCE_BWD(1)
SKCE_BWD(2)
SKCE_BWD(3)
#undef SKCE_FWD
#undef SKCE_BWD

SKCE_DISPATCH void SFX(skce_small_k_logits)(ptrdiff_t n, ptrdiff_t d, ptrdiff_t K,
                                            const REAL *A, ptrdiff_t lda, const REAL *W,
                                            const REAL *bias, REAL *Z)
{
    const ptrdiff_t Kp = SKCE_PADDED_K(K, VL);
    for (ptrdiff_t c0 = 0; c0 < Kp; c0 += 3 * VL) {
        const ptrdiff_t nv = (Kp - c0) / VL < 3 ? (Kp - c0) / VL : 3;
        if (nv == 3)
            SFX(fwd_3)(n, d, A, lda, W, Kp, c0, bias, Z);
        else if (nv == 2)
            SFX(fwd_2)(n, d, A, lda, W, Kp, c0, bias, Z);
        else
            SFX(fwd_1)(n, d, A, lda, W, Kp, c0, bias, Z);
    }
}

SKCE_DISPATCH void SFX(skce_small_k_weight_grad)(ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1,
                                                 ptrdiff_t K, const REAL *A, ptrdiff_t lda,
                                                 const REAL *G, REAL *D)
{
    const ptrdiff_t Kp = SKCE_PADDED_K(K, VL);
    for (ptrdiff_t c0 = 0; c0 < Kp; c0 += 3 * VL) {
        const ptrdiff_t nv = (Kp - c0) / VL < 3 ? (Kp - c0) / VL : 3;
        const ptrdiff_t nc = K - c0 < nv * VL ? K - c0 : nv * VL;
        if (nv == 3)
            SFX(bwd_3)(n, j0, j1, A, lda, G, Kp, c0, nc, D, K);
        else if (nv == 2)
            SFX(bwd_2)(n, j0, j1, A, lda, G, Kp, c0, nc, D, K);
        else
            SFX(bwd_1)(n, j0, j1, A, lda, G, Kp, c0, nc, D, K);
    }
}

/* out[c] = sum_r G[r, c] for c < K (G n x Kp), in double and in row order:
 * the bias gradient of a block.  Up to 4 vectors of 4 columns at a time,
 * each an independent chain of adds. */
typedef double skce_d4 __attribute__((vector_size(32)));
typedef REAL SFX(skce_r4) __attribute__((vector_size(4 * sizeof(REAL))));

SKCE_INLINE skce_d4 SFX(load_d4)(const REAL *p)
{
    SFX(skce_r4) v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, skce_d4);
}

SKCE_INLINE void SFX(column_sums_nv)(ptrdiff_t n, const REAL *G, ptrdiff_t Kp, ptrdiff_t c0,
                                     int nv, ptrdiff_t nc, double *out)
{
    skce_d4 acc[4] = {0};
    for (ptrdiff_t r = 0; r < n; r++)
        for (int v = 0; v < nv; v++)
            acc[v] += SFX(load_d4)(G + r * Kp + c0 + 4 * v);
    double tmp[16];
    memcpy(tmp, acc, sizeof tmp);
    for (ptrdiff_t c = 0; c < nc; c++)
        out[c0 + c] = tmp[c];
}

SKCE_DISPATCH void SFX(skce_small_k_column_sums)(ptrdiff_t n, ptrdiff_t K, const REAL *G,
                                                 double *out)
{
    const ptrdiff_t Kp = SKCE_PADDED_K(K, VL);   /* a multiple of 4 */
    for (ptrdiff_t c0 = 0; c0 < Kp; c0 += 16) {
        const ptrdiff_t nv = (Kp - c0) / 4 < 4 ? (Kp - c0) / 4 : 4;
        const ptrdiff_t nc = K - c0 < 16 ? K - c0 : 16;
        if (nv == 4)
            SFX(column_sums_nv)(n, G, Kp, c0, 4, nc, out);
        else if (nv == 3)
            SFX(column_sums_nv)(n, G, Kp, c0, 3, nc, out);
        else if (nv == 2)
            SFX(column_sums_nv)(n, G, Kp, c0, 2, nc, out);
        else
            SFX(column_sums_nv)(n, G, Kp, c0, 1, nc, out);
    }
}

/* sums[j] += sum_r s_r A[r, j] and squares[j] += sum_r s_r A[r, j]^2 for
 * j < d (s_r = 1 where s is NULL), in double: four rows at a time (one load
 * and store of sums and squares per four rows), in row order within them. */
SKCE_DISPATCH void SFX(skce_column_moments)(ptrdiff_t n, ptrdiff_t d, const REAL *A,
                                            ptrdiff_t lda, const double *s,
                                            double *restrict sums, double *restrict squares)
{
    ptrdiff_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const REAL *a0 = A + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        const double w0 = s ? s[r] : 1.0, w1 = s ? s[r + 1] : 1.0;
        const double w2 = s ? s[r + 2] : 1.0, w3 = s ? s[r + 3] : 1.0;
        SKCE_SIMD
        for (ptrdiff_t j = 0; j < d; j++) {
            const double x0 = (double)a0[j], x1 = (double)a1[j];
            const double x2 = (double)a2[j], x3 = (double)a3[j];
            const double v0 = w0 * x0, v1 = w1 * x1, v2 = w2 * x2, v3 = w3 * x3;
            sums[j] += ((v0 + v1) + (v2 + v3));
            squares[j] += ((v0 * x0 + v1 * x1) + (v2 * x2 + v3 * x3));
        }
    }
    for (; r < n; r++) {
        const REAL *a0 = A + r * lda;
        const double w0 = s ? s[r] : 1.0;
        SKCE_SIMD
        for (ptrdiff_t j = 0; j < d; j++) {
            const double x0 = (double)a0[j], v0 = w0 * x0;
            sums[j] += v0;
            squares[j] += v0 * x0;
        }
    }
}

/* dst (rows x Kp) = src (rows x K), padding columns zero. */
void SFX(skce_pad_columns)(ptrdiff_t rows, ptrdiff_t K, const REAL *src, REAL *dst)
{
    const ptrdiff_t Kp = SKCE_PADDED_K(K, VL);
    for (ptrdiff_t r = 0; r < rows; r++) {
        memcpy(dst + r * Kp, src + r * K, (size_t)K * sizeof(REAL));
        for (ptrdiff_t c = K; c < Kp; c++)
            dst[r * Kp + c] = 0;
    }
}

#undef V
#undef VL
