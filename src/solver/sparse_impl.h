/* The CSR products of the full-batch objective's one pass over X
 * (skce._solver._epoch.csr_pass), instantiated by sparse.c for REAL =
 * double / float and INDEX = int32_t / int64_t (NAME adds both suffixes):
 *     Z[k, :Kp]  = b + X[r0 + k] W                 (logits of rows r0 .. r1)
 *     D[j, :Kp] += sum_k X[r0 + k, j] G[k, :Kp]    (the scatter of X^T G)
 * W, D are d x Kp, Z, G (r1 - r0) x Kp, all row-major, with Kp = K rounded up
 * to whole SIMD vectors (SKCE_PADDED_K), or Kp = K = 1 (scalar loops):
 * every row is a whole number of vectors, so the loops over outputs have a
 * fixed width and no remainder.
 * The padding columns of W and b are zero (so are Z's); G's are read, D's
 * results dropped.  Up to 8 vectors of outputs are done in one sweep of a
 * row's non-zeros, with the results in registers; with at most 4 vectors,
 * even and odd non-zeros go to two sets of accumulators (summed at the end),
 * so that more independent FMAs are in flight (a loop with one or two
 * accumulator vectors sat on the FMA's latency in perf).  Each result is a
 * sum in a fixed order. */

typedef REAL NAME(skce_csr_vec) __attribute__((vector_size(32)));
#define V NAME(skce_csr_vec)
#define VL ((ptrdiff_t)(32 / sizeof(REAL)))

SKCE_INLINE V NAME(csr_loadv)(const REAL *p)
{
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}

SKCE_INLINE void NAME(csr_storev)(REAL *p, V v) { memcpy(p, &v, sizeof v); }

/* z[c0 .. c0 + nv VL) = b + the row's non-zeros q0 .. q1 times W's rows. */
SKCE_INLINE void NAME(csr_fwd)(const int nv, ptrdiff_t q0, ptrdiff_t q1, const REAL *data,
                               const INDEX *indices, const REAL *W, ptrdiff_t Kp,
                               ptrdiff_t c0, const REAL *b, REAL *z)
{
    V acc[8], acc2[4];
    for (int v = 0; v < nv; v++)
        acc[v] = NAME(csr_loadv)(b + c0 + v * VL);
    ptrdiff_t q = q0;
    if (nv <= 4) {
        for (int v = 0; v < nv; v++)
            acc2[v] = acc[v] - acc[v];   /* zeros */
        for (; q + 2 <= q1; q += 2) {
            const REAL x0 = data[q], x1 = data[q + 1];
            const REAL *w0 = W + (ptrdiff_t)indices[q] * Kp + c0;
            const REAL *w1 = W + (ptrdiff_t)indices[q + 1] * Kp + c0;
            for (int v = 0; v < nv; v++) {
                acc[v] += x0 * NAME(csr_loadv)(w0 + v * VL);
                acc2[v] += x1 * NAME(csr_loadv)(w1 + v * VL);
            }
        }
    }
    for (; q < q1; q++) {
        const REAL x = data[q];
        const REAL *w = W + (ptrdiff_t)indices[q] * Kp + c0;
        for (int v = 0; v < nv; v++)
            acc[v] += x * NAME(csr_loadv)(w + v * VL);
    }
    if (nv <= 4)
        for (int v = 0; v < nv; v++)
            acc[v] += acc2[v];
    for (int v = 0; v < nv; v++)
        NAME(csr_storev)(z + c0 + v * VL, acc[v]);
}

/* D's rows of the row's non-zeros, columns c0 .. c0 + nv VL, += x * g. */
SKCE_INLINE void NAME(csr_bwd)(const int nv, ptrdiff_t q0, ptrdiff_t q1, const REAL *data,
                               const INDEX *indices, const REAL *g, ptrdiff_t Kp,
                               ptrdiff_t c0, REAL *D)
{
    V gv[8];
    for (int v = 0; v < nv; v++)
        gv[v] = NAME(csr_loadv)(g + c0 + v * VL);
    for (ptrdiff_t q = q0; q < q1; q++) {
        const REAL x = data[q];
        REAL *dst = D + (ptrdiff_t)indices[q] * Kp + c0;
        for (int v = 0; v < nv; v++)
            NAME(csr_storev)(dst + v * VL, NAME(csr_loadv)(dst + v * VL) + x * gv[v]);
    }
}

/* A constant nv in each call, so that the loops above are unrolled. */
#define SKCE_CSR_SWITCH(CALL)                                                                 \
    switch (nv) {                                                                             \
    case 1: CALL(1); break;                                                                   \
    case 2: CALL(2); break;                                                                   \
    case 3: CALL(3); break;                                                                   \
    case 4: CALL(4); break;                                                                   \
    case 5: CALL(5); break;                                                                   \
    case 6: CALL(6); break;                                                                   \
    case 7: CALL(7); break;                                                                   \
    default: CALL(8); break;                                                                  \
    }

/* One output (Kp = 1, no padding): scalars, four chains of sums in flight.
 * Padded to a vector, each non-zero moved 4x the bytes and Z's column had
 * spacing 4, which kept the loss from running as one SIMD loop (a9a). */
SKCE_INLINE void NAME(csr_logits_1)(ptrdiff_t r0, ptrdiff_t r1, const REAL *data,
                                    const INDEX *indices, const INDEX *indptr, const REAL *W,
                                    REAL b, REAL *Z)
{
    for (ptrdiff_t r = r0; r < r1; r++) {
        const ptrdiff_t q0 = (ptrdiff_t)indptr[r], q1 = (ptrdiff_t)indptr[r + 1];
        REAL a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        ptrdiff_t q = q0;
        for (; q + 4 <= q1; q += 4) {
            a0 += data[q] * W[indices[q]];
            a1 += data[q + 1] * W[indices[q + 1]];
            a2 += data[q + 2] * W[indices[q + 2]];
            a3 += data[q + 3] * W[indices[q + 3]];
        }
        for (; q < q1; q++)
            a0 += data[q] * W[indices[q]];
        Z[r - r0] = b + ((a0 + a1) + (a2 + a3));
    }
}

SKCE_DISPATCH void NAME(skce_csr_rows_logits)(ptrdiff_t r0, ptrdiff_t r1, const REAL *data,
                                              const INDEX *indices, const INDEX *indptr,
                                              ptrdiff_t Kp, const REAL *W, const REAL *b,
                                              REAL *Z)
{
    if (Kp == 1) {
        NAME(csr_logits_1)(r0, r1, data, indices, indptr, W, b[0], Z);
        return;
    }
    for (ptrdiff_t r = r0; r < r1; r++) {
        const ptrdiff_t q0 = (ptrdiff_t)indptr[r], q1 = (ptrdiff_t)indptr[r + 1];
        REAL *z = Z + (r - r0) * Kp;
        for (ptrdiff_t c0 = 0; c0 < Kp; c0 += 8 * VL) {
            const ptrdiff_t left = (Kp - c0) / VL;
            const int nv = left < 8 ? (int)left : 8;
#define SKCE_FWD_CALL(NV) NAME(csr_fwd)(NV, q0, q1, data, indices, W, Kp, c0, b, z)
            SKCE_CSR_SWITCH(SKCE_FWD_CALL)
#undef SKCE_FWD_CALL
        }
    }
}

SKCE_DISPATCH void NAME(skce_csr_rows_weight_grad_add)(ptrdiff_t r0, ptrdiff_t r1,
                                                       const REAL *data, const INDEX *indices,
                                                       const INDEX *indptr, ptrdiff_t Kp,
                                                       const REAL *G, REAL *D)
{
    if (Kp == 1) {
        for (ptrdiff_t r = r0; r < r1; r++) {
            const REAL g = G[r - r0];
            for (ptrdiff_t q = (ptrdiff_t)indptr[r]; q < (ptrdiff_t)indptr[r + 1]; q++)
                D[indices[q]] += data[q] * g;
        }
        return;
    }
    for (ptrdiff_t r = r0; r < r1; r++) {
        const ptrdiff_t q0 = (ptrdiff_t)indptr[r], q1 = (ptrdiff_t)indptr[r + 1];
        const REAL *g = G + (r - r0) * Kp;
        for (ptrdiff_t c0 = 0; c0 < Kp; c0 += 8 * VL) {
            const ptrdiff_t left = (Kp - c0) / VL;
            const int nv = left < 8 ? (int)left : 8;
#define SKCE_BWD_CALL(NV) NAME(csr_bwd)(NV, q0, q1, data, indices, g, Kp, c0, D)
            SKCE_CSR_SWITCH(SKCE_BWD_CALL)
#undef SKCE_BWD_CALL
        }
    }
}

#undef SKCE_CSR_SWITCH
#undef V
#undef VL
