/* Batch numerics of the training epoch: CSR products, intercept gradient,
 * ordered sums of per-block partials (see skce_solver.h).  Compiled with
 * -ffp-contract=off (src/solver/meson.build): no a * b + c becomes an FMA,
 * so the AVX2 clone of a kernel rounds exactly as the baseline one (each
 * element's sum in the same order) and a fit is the same on every machine;
 * the clones only do 4 doubles per instruction instead of 2, and keep more
 * of the scattered weight rows' loads in flight. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "skce_math.h"
#include "skce_solver.h"

/* The scaled kernels read and write a weight row per non-zero, rows spread
 * over all of W: from about d K = 4M values on (32 MB, beyond the cache)
 * each is a memory latency in turn.  They prefetch the rows AHEAD
 * non-zeros on (within a row; at a row's start the next row's first ones). */
#define SKCE_CSR_AHEAD 16

static inline void skce_prefetch_span(const void *p, size_t bytes)
{
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch(c + o, 1, 3);
    __builtin_prefetch(c + bytes - 1, 1, 3);
}

static inline void skce_prefetch_span_read(const void *p, size_t bytes)
{
    const char *c = (const char *)p;
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch(c + o, 0, 3);
    __builtin_prefetch(c + bytes - 1, 0, 3);
}

#define SKCE_CSR_PREFETCH(ROWS, INDICES, INDPTR, ORDER, N, K, KSIZE, k, q, q1)                 \
    SKCE_CSR_PREFETCH_MAP(ROWS, SKCE_SAME, INDICES, INDPTR, ORDER, N, K, KSIZE, k, q, q1)
#define SKCE_SAME(j) (j)
#define SKCE_POS(j) pos[j]
/* The same, to row MAP(j) for feature j (the compact gradient's pos[j]). */
#define SKCE_CSR_PREFETCH_MAP(ROWS, MAP, INDICES, INDPTR, ORDER, N, K, KSIZE, k, q, q1)        \
    do {                                                                                      \
        if ((q) + SKCE_CSR_AHEAD < (q1)) {                                                    \
            skce_prefetch_span(ROWS + (ptrdiff_t)MAP(INDICES[(q) + SKCE_CSR_AHEAD]) * (K),    \
                               KSIZE);                                                        \
        } else if ((k) + 1 < (N)) {                                                           \
            const ptrdiff_t nq = (ptrdiff_t)INDPTR[ORDER[(k) + 1]] + (q) + SKCE_CSR_AHEAD     \
                                 - (q1);                                                      \
            if (nq < (ptrdiff_t)INDPTR[ORDER[(k) + 1] + 1])                                   \
                skce_prefetch_span(ROWS + (ptrdiff_t)MAP(INDICES[nq]) * (K), KSIZE);          \
        }                                                                                     \
    } while (0)

/* A batch's rows are scattered over X (a shuffled order): the passes that
 * read them first prefetch row k + SKCE_ROW_AHEAD's non-zeros (indices and,
 * with DATA, values; ELEM bytes each), and the indptr entries of the row
 * SKCE_ROW_AHEAD further on, which that needs.  Without it the first pass
 * over a batch (the touched features, the logits) waited on each row's
 * first line in turn: 15 % of a lazy Adam epoch, 12 % of an SGD one. */
#define SKCE_ROW_AHEAD 4
#define SKCE_ROW_PREFETCH(ORDER, N, INDPTR, INDICES, DATA, ELEM, k)                           \
    do {                                                                                      \
        if ((k) + 2 * SKCE_ROW_AHEAD < (N))                                                   \
            __builtin_prefetch(&INDPTR[ORDER[(k) + 2 * SKCE_ROW_AHEAD]], 0, 3);               \
        if ((k) + SKCE_ROW_AHEAD < (N)) {                                                     \
            const int64_t r_ = ORDER[(k) + SKCE_ROW_AHEAD];                                   \
            const ptrdiff_t q0_ = (ptrdiff_t)INDPTR[r_], nq_ = (ptrdiff_t)INDPTR[r_ + 1] - q0_; \
            if (nq_ > 0) {                                                                    \
                skce_prefetch_span_read(INDICES + q0_, (size_t)nq_ * sizeof(*INDICES));         \
                if ((DATA) != NULL)                                                           \
                    skce_prefetch_span_read((const char *)(DATA) + q0_ * (ELEM),              \
                                            (size_t)nq_ * (ELEM));                            \
            }                                                                                 \
        }                                                                                     \
    } while (0)

#define SKCE_DEFINE_CSR(REAL, SFX, INDEX, ISFX)                                               \
    SKCE_DISPATCH                                                                             \
    void skce_csr_logits##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data,      \
                                    const INDEX *indices, const INDEX *indptr, ptrdiff_t K,   \
                                    const REAL *W, const REAL *b, REAL *restrict Z)           \
    {                                                                                         \
        for (ptrdiff_t k = 0; k < n; k++) {                                                   \
            const int64_t row = order[k];                                                     \
            SKCE_ROW_PREFETCH(order, n, indptr, indices, data, sizeof(REAL), k);              \
            REAL *z = Z + k * K;                                                              \
            for (ptrdiff_t c = 0; c < K; c++)                                                 \
                z[c] = b[c];                                                                  \
            const ptrdiff_t q1 = (ptrdiff_t)indptr[row + 1];                                  \
            for (ptrdiff_t q = indptr[row]; q < q1; q++) {                                    \
                SKCE_CSR_PREFETCH(W, indices, indptr, order, n, K, K * sizeof(REAL), k, q, q1); \
                const REAL v = data[q];                                                       \
                const REAL *w = W + (ptrdiff_t)indices[q] * K;                                \
                for (ptrdiff_t c = 0; c < K; c++)                                             \
                    z[c] += v * w[c];                                                         \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    SKCE_DISPATCH                                                                             \
    void skce_csr_weight_grad##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data, \
                                         const INDEX *indices, const INDEX *indptr,           \
                                         ptrdiff_t d, ptrdiff_t K, const REAL *G,             \
                                         REAL *restrict D)                                    \
    {                                                                                         \
        memset(D, 0, (size_t)(d * K) * sizeof(REAL));                                         \
        for (ptrdiff_t k = 0; k < n; k++) {                                                   \
            const int64_t row = order[k];                                                     \
            const REAL *g = G + k * K;                                                        \
            for (ptrdiff_t q = indptr[row]; q < indptr[row + 1]; q++) {                       \
                const REAL v = data[q];                                                       \
                REAL *dst = D + (ptrdiff_t)indices[q] * K;                                    \
                for (ptrdiff_t c = 0; c < K; c++)                                             \
                    dst[c] += v * g[c];                                                       \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    SKCE_DISPATCH                                                                             \
    void skce_csr_weight_grad_compact##SFX##ISFX(ptrdiff_t n, const int64_t *order,           \
                                                 const REAL *data, const INDEX *indices,      \
                                                 const INDEX *indptr, ptrdiff_t K,            \
                                                 const REAL *G, const int64_t *pos,           \
                                                 REAL *restrict D)                            \
    {                                                                                         \
        for (ptrdiff_t k = 0; k < n; k++) {                                                   \
            const int64_t row = order[k];                                                     \
            const REAL *g = G + k * K;                                                        \
            const ptrdiff_t q1 = (ptrdiff_t)indptr[row + 1];                                  \
            for (ptrdiff_t q = indptr[row]; q < q1; q++) {                                    \
                SKCE_CSR_PREFETCH_MAP(D, SKCE_POS, indices, indptr, order, n, K,              \
                                      K * sizeof(REAL), k, q, q1);                            \
                const REAL v = data[q];                                                       \
                REAL *dst = D + pos[indices[q]] * K;                                          \
                for (ptrdiff_t c = 0; c < K; c++)                                             \
                    dst[c] += v * g[c];                                                       \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    SKCE_DISPATCH                                                                             \
    void skce_csr_scaled_logits##SFX##ISFX(ptrdiff_t n, const int64_t *order,                 \
                                           const REAL *data, const INDEX *indices,            \
                                           const INDEX *indptr, ptrdiff_t K, const REAL *V,   \
                                           REAL scale, const REAL *b, REAL *restrict Z)       \
    {                                                                                         \
        for (ptrdiff_t k = 0; k < n; k++) {                                                   \
            const int64_t row = order[k];                                                     \
            SKCE_ROW_PREFETCH(order, n, indptr, indices, data, sizeof(REAL), k);              \
            REAL *z = Z + k * K;                                                              \
            for (ptrdiff_t c = 0; c < K; c++)                                                 \
                z[c] = 0;                                                                     \
            const ptrdiff_t q1 = (ptrdiff_t)indptr[row + 1];                                  \
            for (ptrdiff_t q = indptr[row]; q < q1; q++) {                                    \
                SKCE_CSR_PREFETCH(V, indices, indptr, order, n, K, K * sizeof(REAL), k, q, q1); \
                const REAL x = data[q];                                                       \
                const REAL *v = V + (ptrdiff_t)indices[q] * K;                                \
                for (ptrdiff_t c = 0; c < K; c++)                                             \
                    z[c] += x * v[c];                                                         \
            }                                                                                 \
            for (ptrdiff_t c = 0; c < K; c++)                                                 \
                z[c] = b[c] + scale * z[c];                                                   \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    SKCE_DISPATCH                                                                             \
    void skce_csr_scaled_step##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data, \
                                         const INDEX *indices, const INDEX *indptr,           \
                                         ptrdiff_t K, const REAL *G, double cv, double ca,    \
                                         REAL *restrict V, REAL *restrict A)                  \
    {                                                                                         \
        for (ptrdiff_t k = 0; k < n; k++) {                                                   \
            const int64_t row = order[k];                                                     \
            const REAL *g = G + k * K;                                                        \
            const ptrdiff_t q1 = (ptrdiff_t)indptr[row + 1];                                  \
            for (ptrdiff_t q = indptr[row]; q < q1; q++) {                                    \
                SKCE_CSR_PREFETCH(V, indices, indptr, order, n, K, K * sizeof(REAL), k, q, q1); \
                if (A != NULL)                                                                \
                    SKCE_CSR_PREFETCH(A, indices, indptr, order, n, K, K * sizeof(REAL), k, q, \
                                      q1);                                                    \
                const ptrdiff_t p = (ptrdiff_t)indices[q] * K;                                \
                const REAL xv = (REAL)(cv * (double)data[q]);                                 \
                REAL *v = V + p;                                                              \
                for (ptrdiff_t c = 0; c < K; c++)                                             \
                    v[c] += xv * g[c];                                                        \
                if (A != NULL) {                                                              \
                    const REAL xa = (REAL)(ca * (double)data[q]);                             \
                    REAL *a = A + p;                                                          \
                    for (ptrdiff_t c = 0; c < K; c++)                                         \
                        a[c] += xa * g[c];                                                    \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

/* Index-only: no REAL.  The touched features come out sorted (a bitmap,
 * scanned over the words the batch set): the lazy steps then walk the weight
 * rows in memory order, which the hardware prefetcher follows; in batch
 * order each row was a cache miss of its own (Adam: 4x slower). */
#define SKCE_DEFINE_TOUCHED(INDEX, ISFX)                                                      \
    ptrdiff_t skce_csr_touched##ISFX(ptrdiff_t n, const int64_t *order, const INDEX *indices, \
                                     const INDEX *indptr, uint64_t *restrict bits,            \
                                     int64_t *restrict pos, int64_t *restrict touched)        \
    {                                                                                         \
        int64_t lo = INT64_MAX, hi = -1;                                                      \
        for (ptrdiff_t k = 0; k < n; k++) {                                                   \
            const int64_t row = order[k];                                                     \
            SKCE_ROW_PREFETCH(order, n, indptr, indices, NULL, 0, k);                         \
            for (ptrdiff_t q = indptr[row]; q < indptr[row + 1]; q++) {                       \
                const int64_t j = indices[q];                                                 \
                bits[j >> 6] |= (uint64_t)1 << (j & 63);                                      \
                lo = j < lo ? j : lo;                                                         \
                hi = j > hi ? j : hi;                                                         \
            }                                                                                 \
        }                                                                                     \
        ptrdiff_t m = 0;                                                                      \
        for (int64_t wi = lo >> 6; wi <= hi >> 6 && hi >= 0; wi++) {                         \
            uint64_t word = bits[wi];                                                         \
            bits[wi] = 0;                                                                     \
            while (word) {                                                                    \
                const int64_t j = (wi << 6) + __builtin_ctzll(word);                          \
                word &= word - 1;                                                             \
                pos[j] = m;                                                                   \
                touched[m++] = j;                                                             \
            }                                                                                 \
        }                                                                                     \
        return m;                                                                             \
    }

SKCE_DEFINE_TOUCHED(int32_t, _i32)
SKCE_DEFINE_TOUCHED(int64_t, _i64)

#define SKCE_DEFINE_BATCH(REAL, SFX)                                                          \
    SKCE_DEFINE_CSR(REAL, SFX, int32_t, _i32)                                                 \
    SKCE_DEFINE_CSR(REAL, SFX, int64_t, _i64)                                                 \
                                                                                              \
    void skce_column_sums##SFX(ptrdiff_t n, ptrdiff_t K, const REAL *G, ptrdiff_t ldg,        \
                               REAL *restrict out)                                            \
    {                                                                                         \
        /* 16 columns at a time: independent chains of double sums */                         \
        double acc[16];                                                                       \
        for (ptrdiff_t c0 = 0; c0 < K; c0 += 16) {                                            \
            const ptrdiff_t m = K - c0 < 16 ? K - c0 : 16;                                    \
            for (ptrdiff_t c = 0; c < m; c++)                                                 \
                acc[c] = 0.0;                                                                 \
            for (ptrdiff_t k = 0; k < n; k++)                                                 \
                for (ptrdiff_t c = 0; c < m; c++)                                             \
                    acc[c] += G[k * ldg + c0 + c];                                            \
            for (ptrdiff_t c = 0; c < m; c++)                                                 \
                out[c0 + c] = (REAL)acc[c];                                                   \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    void skce_sum_partials##SFX(ptrdiff_t n_parts, ptrdiff_t stride, ptrdiff_t p0,            \
                                ptrdiff_t p1, const REAL *partial, REAL *restrict out)        \
    {                                                                                         \
        for (ptrdiff_t q = p0; q < p1; q++)                                                   \
            out[q] = partial[q];                                                              \
        for (ptrdiff_t b = 1; b < n_parts; b++)                                               \
            for (ptrdiff_t q = p0; q < p1; q++)                                               \
                out[q] += partial[b * stride + q];                                            \
    }

SKCE_DEFINE_BATCH(double, _f64)
SKCE_DEFINE_BATCH(float, _f32)

/* The entry points on skce_csr (skce_solver.h). */
#define SKCE_DEFINE_CSR_ENTRY(REAL, SFX)                                                      \
    void skce_csr_logits##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,           \
                              ptrdiff_t K, const REAL *W, const REAL *b, REAL *Z)             \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_logits##SFX, n, order, X->data, X->indices, X->indptr, K,   \
                      W, b, Z);                                                               \
    }                                                                                         \
    void skce_csr_weight_grad##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,      \
                                   ptrdiff_t d, ptrdiff_t K, const REAL *G, REAL *D)          \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_weight_grad##SFX, n, order, X->data, X->indices,            \
                      X->indptr, d, K, G, D);                                                 \
    }                                                                                         \
    void skce_csr_weight_grad_compact##SFX(const skce_csr *X, ptrdiff_t n,                    \
                                           const int64_t *order, ptrdiff_t K, const REAL *G,  \
                                           const int64_t *pos, REAL *D)                       \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_weight_grad_compact##SFX, n, order, X->data, X->indices,    \
                      X->indptr, K, G, pos, D);                                               \
    }                                                                                         \
    void skce_csr_scaled_logits##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,    \
                                     ptrdiff_t K, const REAL *V, REAL scale, const REAL *b,   \
                                     REAL *Z)                                                 \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_scaled_logits##SFX, n, order, X->data, X->indices,          \
                      X->indptr, K, V, scale, b, Z);                                          \
    }                                                                                         \
    void skce_csr_scaled_step##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,      \
                                   ptrdiff_t K, const REAL *G, double cv, double ca, REAL *V, \
                                   REAL *A)                                                   \
    {                                                                                         \
        SKCE_CSR_CALL(X, skce_csr_scaled_step##SFX, n, order, X->data, X->indices, X->indptr, \
                      K, G, cv, ca, V, A);                                                    \
    }

SKCE_DEFINE_CSR_ENTRY(double, _f64)
SKCE_DEFINE_CSR_ENTRY(float, _f32)

#define SKCE_DEFINE_BATCH_NNZ(INDEX, ISFX)                                                    \
    static ptrdiff_t skce_csr_batch_nnz##ISFX(ptrdiff_t n, const int64_t *order,              \
                                              const INDEX *indptr)                            \
    {                                                                                         \
        ptrdiff_t nnz = 0;                                                                    \
        for (ptrdiff_t k = 0; k < n; k++)                                                     \
            nnz += (ptrdiff_t)(indptr[order[k] + 1] - indptr[order[k]]);                      \
        return nnz;                                                                           \
    }
SKCE_DEFINE_BATCH_NNZ(int32_t, _i32)
SKCE_DEFINE_BATCH_NNZ(int64_t, _i64)

ptrdiff_t skce_csr_batch_nnz(const skce_csr *X, ptrdiff_t n, const int64_t *order)
{
    return SKCE_CSR_CALL(X, skce_csr_batch_nnz, n, order, X->indptr);
}

ptrdiff_t skce_csr_touched(const skce_csr *X, ptrdiff_t n, const int64_t *order,
                           uint64_t *bits, int64_t *pos, int64_t *touched)
{
    return SKCE_CSR_CALL(X, skce_csr_touched, n, order, X->indices, X->indptr, bits, pos,
                         touched);
}
