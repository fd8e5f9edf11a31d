/* Softmax-family kernels, instantiated by softmax.c for REAL = double and
 * REAL = float (SFX(name) appends _f64 / _f32, EXP is the matching exp;
 * ACC and LOG_ACC are the per-row arithmetic of the training hot path:
 * double for double, float for float).
 *
 * Rows are handled in tiles: the row maxima are subtracted into a small
 * buffer, one long vectorized loop takes exp of the whole tile (short rows
 * such as C = 10 would waste most SIMD lanes one row at a time), then each
 * row's loss and gradient are formed from it.  Losses are written as
 * (max - x_t) + log(sum) so logits near +-1e300 keep full precision; sums
 * accumulate in double for both dtypes.  IDX is an integer type as wide as
 * REAL (gathers from the tile vectorize only then, GCC 12). */

/* Buffer elements per tile (fits L1 with the rows it came from), and the
 * most rows a tile holds. */
#define SKCE_TILE 2048
#define SKCE_TILE_ROWS 256

SKCE_INLINE const REAL *SFX(row_ptr)(const REAL *a, skce_strides3 s, const skce_shape *shape,
                                     ptrdiff_t r)
{
    ptrdiff_t i, d;
    SKCE_ROW_INDEX(r, shape, i, d);
    return a + i * s.sample + d * s.pos;
}

SKCE_INLINE REAL SFX(row_max)(const REAL *restrict x, ptrdiff_t xs, ptrdiff_t C)
{
    REAL m = x[0];
    SKCE_SIMD_REDUCTION(max, m)
    for (ptrdiff_t j = 1; j < C; j++)
        m = x[j * xs] > m ? x[j * xs] : m;
    return m;
}

/* Classes up to which a tile is stored transposed (class-major): with few
 * classes, SIMD lanes then run across rows instead of along a short row. */
#define SKCE_TRANSPOSE_MAX_C 64

/* Rows r0 .. r0 + n - 1 transposed into buf (buf[j * n + k] = x[row k,
 * class j]) and their maxima into m[], in one pass: each class is read down
 * the tile's rows (strided loads, SIMD lanes over rows) and folded into the
 * running maxima as it is stored. */
SKCE_INLINE void SFX(load_tile_t)(const REAL *x, skce_strides3 xs, const skce_shape *shape,
                                  ptrdiff_t r0, ptrdiff_t n, REAL *restrict buf,
                                  REAL *restrict m)
{
    const ptrdiff_t C = shape->n_classes;
#ifdef SKCE_HAVE_T4
    if (shape->n_pos == 1 && xs.cls == 1 && C >= 4) {
        /* contiguous rows: 4 rows x 4 classes at a time, whole-vector loads
         * along the rows transposed in registers; the maxima of 4 rows stay
         * in a register across the classes (taken in class order) */
        const REAL *restrict x0 = x + r0 * xs.sample;
        const ptrdiff_t rs = xs.sample;
        const ptrdiff_t C4 = C & ~(ptrdiff_t)3;
        ptrdiff_t k = 0;
        for (; k + 4 <= n; k += 4) {
            const REAL *restrict xk = x0 + k * rs;
            V4 mk;
            for (ptrdiff_t j = 0; j < C4; j += 4) {
                V4 v0, v1, v2, v3;
                memcpy(&v0, xk + j, sizeof v0);
                memcpy(&v1, xk + rs + j, sizeof v1);
                memcpy(&v2, xk + 2 * rs + j, sizeof v2);
                memcpy(&v3, xk + 3 * rs + j, sizeof v3);
                SFX(skce_t4)(&v0, &v1, &v2, &v3);
                memcpy(buf + j * n + k, &v0, sizeof v0);
                memcpy(buf + (j + 1) * n + k, &v1, sizeof v1);
                memcpy(buf + (j + 2) * n + k, &v2, sizeof v2);
                memcpy(buf + (j + 3) * n + k, &v3, sizeof v3);
                if (j == 0) mk = v0; else SKCE_VMAX(V4I, mk, v0);
                SKCE_VMAX(V4I, mk, v1);
                SKCE_VMAX(V4I, mk, v2);
                SKCE_VMAX(V4I, mk, v3);
            }
            for (ptrdiff_t j = C4; j < C; j++) {
                const V4 v = {xk[j], xk[rs + j], xk[2 * rs + j], xk[3 * rs + j]};
                memcpy(buf + j * n + k, &v, sizeof v);
                SKCE_VMAX(V4I, mk, v);
            }
            memcpy(m + k, &mk, sizeof mk);
        }
        for (; k < n; k++) {
            const REAL *restrict xk = x0 + k * rs;
            REAL mm = xk[0];
            buf[k] = mm;
            for (ptrdiff_t j = 1; j < C; j++) {
                const REAL v = xk[j];
                buf[j * n + k] = v;
                mm = v > mm ? v : mm;
            }
            m[k] = mm;
        }
    } else
#endif
    if (shape->n_pos == 1) {
        /* rows evenly spaced */
        const REAL *restrict x0 = x + r0 * xs.sample;
        const ptrdiff_t rs = xs.sample;
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < n; k++) {
            const REAL v = x0[k * rs];
            buf[k] = v;
            m[k] = v;
        }
        for (ptrdiff_t j = 1; j < C; j++) {
            const REAL *restrict src = x0 + j * xs.cls;
            REAL *restrict dst = buf + j * n;
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < n; k++) {
                const REAL v = src[k * rs];
                dst[k] = v;
                m[k] = v > m[k] ? v : m[k];   /* a NaN in class 0 stays, later ones do not */
            }
        }
    } else {
        for (ptrdiff_t k = 0; k < n; k++) {
            const REAL *xr = SFX(row_ptr)(x, xs, shape, r0 + k);
            for (ptrdiff_t j = 0; j < C; j++) buf[j * n + k] = xr[j * xs.cls];
        }
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < n; k++) m[k] = buf[k];
        for (ptrdiff_t j = 1; j < C; j++) {
            const REAL *b = buf + j * n;
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < n; k++) m[k] = b[k] > m[k] ? b[k] : m[k];
        }
    }
}

/* For rows r0 .. r0 + n - 1 (n * C <= SKCE_TILE): row maxima into m[],
 * exp(x - max) into buf, row sums into s[] and their logs into log_s[].
 * Row k's exp values are at buf + k * (*es_row) with stride *es. */
SKCE_INLINE void SFX(exp_tile)(const REAL *x, skce_strides3 xs, const skce_shape *shape,
                               ptrdiff_t r0, ptrdiff_t n, REAL *restrict buf,
                               REAL *restrict m, double *restrict s, double *restrict log_s,
                               ptrdiff_t *es_row, ptrdiff_t *es)
{
    const ptrdiff_t C = shape->n_classes;
    if (C <= SKCE_TRANSPOSE_MAX_C) {
        SFX(load_tile_t)(x, xs, shape, r0, n, buf, m);
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < n; k++) s[k] = 0.0;
        for (ptrdiff_t j = 0; j < C; j++) {
            REAL *b = buf + j * n;
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < n; k++) {
                REAL v = EXP(b[k] - m[k]);
                b[k] = v;
                s[k] += (double)v;
            }
        }
        *es_row = 1;
        *es = n;
    } else {
        for (ptrdiff_t k = 0; k < n; k++) {
            const REAL *xr = SFX(row_ptr)(x, xs, shape, r0 + k);
            REAL *b = buf + k * C;
            REAL mk = SFX(row_max)(xr, xs.cls, C);
            if (xs.cls == 1) {
                SKCE_SIMD
                for (ptrdiff_t j = 0; j < C; j++) b[j] = xr[j] - mk;
            } else {
                for (ptrdiff_t j = 0; j < C; j++) b[j] = xr[j * xs.cls] - mk;
            }
            m[k] = mk;
        }
        const ptrdiff_t len = n * C;
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < len; k++) buf[k] = EXP(buf[k]);
        for (ptrdiff_t k = 0; k < n; k++) {
            const REAL *b = buf + k * C;
            double acc = 0.0;
            SKCE_SIMD_REDUCTION(+, acc)
            for (ptrdiff_t j = 0; j < C; j++) acc += (double)b[j];
            s[k] = acc;
        }
        *es_row = C;
        *es = 1;
    }
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) log_s[k] = skce_log_f64(s[k]);
}

/* Rows per tile for C classes (0: C too large, use one row at a time with
 * the output row as the buffer): a multiple of 8 where it can be, so that
 * the loops across the tile's rows have no remainder (letter, 26 classes:
 * 78 rows gave every class a scalar tail). */
SKCE_INLINE ptrdiff_t SFX(tile_rows)(ptrdiff_t C)
{
    if (C > SKCE_TILE) return 0;
    const ptrdiff_t rows = SKCE_TILE / C < SKCE_TILE_ROWS ? SKCE_TILE / C : SKCE_TILE_ROWS;
    return rows >= 8 ? rows & ~(ptrdiff_t)7 : rows;
}

/* Loss of one row with class-index target t, given e = exp(x - m) (stride
 * es) and s = sum(e).  Loss before sample weight:
 *   (1-eps) w_t (lse - x_t) + eps/C sum_c w_c (lse - x_c)
 * Gradient times `scale`, into g when g != NULL:
 *   ((1-eps) w_t + eps/C W) softmax_j - (1-eps) w_t [j == t] - eps/C w_j
 * g may alias e (same stride). */
SKCE_INLINE double SFX(ce_index_row)(const REAL *x, ptrdiff_t xs, ptrdiff_t C, ptrdiff_t t,
                                     REAL m, double s, double log_s, const REAL *e,
                                     ptrdiff_t es, const double *restrict cw, double W,
                                     double eps, double scale, REAL *g, ptrdiff_t gs)
{
    double wt = cw ? cw[t] : 1.0;
    double dm = (double)m;
    double loss = (1.0 - eps) * wt * ((dm - (double)x[t * xs]) + log_s);
    if (eps != 0.0) {
        double acc = 0.0;
        if (cw) {
            SKCE_SIMD_REDUCTION(+, acc)
            for (ptrdiff_t j = 0; j < C; j++) acc += cw[j] * (dm - (double)x[j * xs]);
        } else {
            SKCE_SIMD_REDUCTION(+, acc)
            for (ptrdiff_t j = 0; j < C; j++) acc += dm - (double)x[j * xs];
        }
        loss += eps / (double)C * (acc + W * log_s);
    }
    if (g) {
        double a = scale * ((1.0 - eps) * wt + eps / (double)C * W) / s;
        double et = (double)e[t * es];
        if (eps != 0.0) {
            double b = scale * eps / (double)C;
            if (cw) {
                SKCE_SIMD
                for (ptrdiff_t j = 0; j < C; j++)
                    g[j * gs] = (REAL)(a * (double)e[j * es] - b * cw[j]);
            } else {
                SKCE_SIMD
                for (ptrdiff_t j = 0; j < C; j++)
                    g[j * gs] = (REAL)(a * (double)e[j * es] - b);
            }
            g[t * gs] = (REAL)((double)g[t * gs] - scale * (1.0 - eps) * wt);
        } else {
            SKCE_SIMD
            for (ptrdiff_t j = 0; j < C; j++)
                g[j * gs] = (REAL)(a * (double)e[j * es]);
            g[t * gs] = (REAL)(a * et - scale * wt);   /* one rounding, no cancellation */
        }
    }
    return loss;
}

/* Loss of one row with probability target y (smoothed to (1-eps) y + eps/C). */
SKCE_INLINE double SFX(ce_prob_row)(const REAL *x, ptrdiff_t xs, ptrdiff_t C,
                                    const REAL *y, ptrdiff_t ys, REAL m, double s,
                                    double log_s, const REAL *e, ptrdiff_t es,
                                    const double *restrict cw, double eps, double scale,
                                    REAL *g, ptrdiff_t gs)
{
    double dm = (double)m;
    double loss = 0.0, wy_sum = 0.0;
    double keep = 1.0 - eps, add = eps / (double)C;
    for (ptrdiff_t j = 0; j < C; j++) {
        double wy = (keep * (double)y[j * ys] + add) * (cw ? cw[j] : 1.0);
        /* 0 * log(0) = 0: a zero-probability class with a -inf logit adds nothing */
        if (wy != 0.0) loss += wy * ((dm - (double)x[j * xs]) + log_s);
        wy_sum += wy;
    }
    if (g) {
        double a = scale * wy_sum / s;
        for (ptrdiff_t j = 0; j < C; j++) {
            double wy = (keep * (double)y[j * ys] + add) * (cw ? cw[j] : 1.0);
            g[j * gs] = (REAL)(a * (double)e[j * es] - scale * wy);
        }
    }
    return loss;
}

/* exp(x - m) of one row into e (stride es) when e != NULL; returns the sum. */
SKCE_INLINE double SFX(exp_row)(const REAL *x, ptrdiff_t xs, ptrdiff_t C, REAL m,
                                REAL *e, ptrdiff_t es)
{
    double acc = 0.0;
    if (e) {
        SKCE_SIMD_REDUCTION(+, acc)
        for (ptrdiff_t j = 0; j < C; j++) {
            REAL v = EXP(x[j * xs] - m);
            e[j * es] = v;
            acc += (double)v;
        }
    } else {
        SKCE_SIMD_REDUCTION(+, acc)
        for (ptrdiff_t j = 0; j < C; j++) acc += (double)EXP(x[j * xs] - m);
    }
    return acc;
}

/* The driver shared by the kernels: per tile, exp of the rows, then ROW_BODY
 * for each row with r, i, d, xr, gr, m_k, s_k, log_s_k and e (stride es) in
 * scope.  Rows wider than a tile go one at a time and compute e in the
 * gradient row itself; without a gradient only their sum is kept (e = NULL). */
#define SKCE_TILED_ROWS(ROW_BODY)                                                       \
    do {                                                                                \
        REAL buf[SKCE_TILE];                                                            \
        REAL mt[SKCE_TILE_ROWS];                                                        \
        double st[SKCE_TILE_ROWS], lst[SKCE_TILE_ROWS];                                 \
        const ptrdiff_t C = shape->n_classes;                                           \
        const ptrdiff_t per_tile = SFX(tile_rows)(C);                                   \
        for (ptrdiff_t q0 = r0; q0 < r1; q0 += (per_tile ? per_tile : 1)) {             \
            ptrdiff_t nq = per_tile ? (r1 - q0 < per_tile ? r1 - q0 : per_tile) : 1;    \
            ptrdiff_t es_row = 0, es_tile = 0;                                          \
            if (per_tile)                                                               \
                SFX(exp_tile)(x, xs, shape, q0, nq, buf, mt, st, lst, &es_row, &es_tile); \
            for (ptrdiff_t k = 0; k < nq; k++) {                                        \
                const ptrdiff_t r = q0 + k;                                             \
                ptrdiff_t i, d;                                                         \
                SKCE_ROW_INDEX(r, shape, i, d);                                         \
                const REAL *xr = x + i * xs.sample + d * xs.pos;                        \
                REAL *gr = grad ? grad + i * gs.sample + d * gs.pos : NULL;             \
                const REAL *e;                                                          \
                ptrdiff_t es;                                                           \
                REAL m_k;                                                               \
                double s_k, log_s_k;                                                    \
                if (per_tile) {                                                         \
                    e = buf + k * es_row; es = es_tile;                                 \
                    m_k = mt[k]; s_k = st[k]; log_s_k = lst[k];                         \
                } else {                                                                \
                    m_k = SFX(row_max)(xr, xs.cls, C);                                  \
                    s_k = SFX(exp_row)(xr, xs.cls, C, m_k, gr, gs.cls);                 \
                    log_s_k = log(s_k);                                                 \
                    e = gr; es = gs.cls;                                                \
                }                                                                       \
                ROW_BODY                                                                \
            }                                                                           \
        }                                                                               \
    } while (0)

/* Class-index targets, no label smoothing, C <= SKCE_TRANSPOSE_MAX_C: the
 * training hot path.  Per tile of rows, in passes with SIMD lanes across the
 * rows of the transposed tile: load (transpose + row maxima), the target
 * logits x_t, exp(x - max) with the row sums, then loss and gradient
 * factors per row, and finally the gradient written back (strided stores)
 * with each row's target entry redone as a * e_t - b. */
SKCE_INLINE double SFX(ce_index_tiles)(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const int64_t *target,
    REAL *loss_out, REAL *grad, skce_strides3 gs)
{
    REAL buf[SKCE_TILE];
    REAL mt[SKCE_TILE_ROWS], xt[SKCE_TILE_ROWS], lbuf[SKCE_TILE_ROWS];
    /* per-row sums and factors in ACC: double for double, float for float
     * (sums of <= 64 terms in [0, 1], as torch; float keeps all 8 lanes) */
    ACC st[SKCE_TILE_ROWS], wt[SKCE_TILE_ROWS], a[SKCE_TILE_ROWS], gt[SKCE_TILE_ROWS];
    int ti[SKCE_TILE_ROWS];   /* target class, -1 for ignored rows (32-bit: vectorizes with float) */
    const ptrdiff_t C = shape->n_classes;
    const ptrdiff_t per_tile = SFX(tile_rows)(C);
    const int64_t ign = opt->ignore_index;
    const double *cw = opt->class_weight, *sw = opt->sample_weight;
    const double scale = opt->grad_scale;
    double total = 0.0;
    for (ptrdiff_t q0 = r0; q0 < r1; q0 += per_tile) {
        const ptrdiff_t n = r1 - q0 < per_tile ? r1 - q0 : per_tile;
        SFX(load_tile_t)(x, xs, shape, q0, n, buf, mt);
        /* targets (validated by the caller: in [0, C) or ignore_index) */
        if (shape->n_pos == 1) {
            const int64_t *restrict tg = target + q0 * shape->t_sample;
            const ptrdiff_t ts = shape->t_sample;
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < n; k++) ti[k] = tg[k * ts] != ign ? (int)tg[k * ts] : -1;
        } else {
            for (ptrdiff_t k = 0; k < n; k++) {
                ptrdiff_t i, d;
                SKCE_ROW_INDEX(q0 + k, shape, i, d);
                const int64_t t = target[i * shape->t_sample + d * shape->t_pos];
                ti[k] = t != ign ? (int)t : -1;
            }
        }
        if (cw || sw) {
            for (ptrdiff_t k = 0; k < n; k++) {
                ptrdiff_t i, d;
                SKCE_ROW_INDEX(q0 + k, shape, i, d);
                (void)d;
                wt[k] = (ACC)((cw && ti[k] >= 0 ? cw[ti[k]] : 1.0) * (sw ? sw[i] : 1.0));
            }
        } else {
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < n; k++) wt[k] = 1.0;
        }
        /* ignored rows read class 0, masked below */
        /* gathers vectorize with IDX as wide as REAL (n * C <= SKCE_TILE) */
        const IDX ni = (IDX)n;
        SKCE_SIMD
        for (IDX k = 0; k < ni; k++) xt[k] = buf[(IDX)(ti[k] >= 0 ? ti[k] : 0) * ni + k];
        /* exp(x - max) and the row sums */
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < n; k++) st[k] = 0;
        /* The next tile's input and gradient rows are prefetched meanwhile, a
         * share per class, so that memory traffic overlaps this compute-bound
         * loop instead of stalling the next tile's loads and stores.  Past
         * r1 too: the next block usually follows on the same thread (static
         * schedule); prefetches never fault, and the addresses are formed as
         * integers. */
        uintptr_t pf_x = 0, pf_g = 0;
        ptrdiff_t pf_xl = 0, pf_gl = 0;
        /* Only where the rows are packed: the span covers exactly the next
         * tile's data (with a large row stride it would be gigabytes of
         * other data; measured 10 s for 4 rows 2**31 elements apart). */
        if (shape->n_pos == 1 && xs.cls == 1 && xs.sample == C) {
            pf_x = (uintptr_t)x + (uintptr_t)((q0 + n) * xs.sample) * sizeof(REAL);
            pf_xl = (per_tile * xs.sample * (ptrdiff_t)sizeof(REAL) + 63) / 64;
        }
        if (shape->n_pos == 1 && gs.cls == 1 && gs.sample == C) {
            if (grad) {
                pf_g = (uintptr_t)grad + (uintptr_t)((q0 + n) * gs.sample) * sizeof(REAL);
                pf_gl = (per_tile * gs.sample * (ptrdiff_t)sizeof(REAL) + 63) / 64;
            }
        }
        for (ptrdiff_t j = 0; j < C; j++) {
            REAL *restrict bj = buf + j * n;
            SKCE_SIMD
            for (ptrdiff_t k = 0; k < n; k++) {
                const REAL v = EXP(bj[k] - mt[k]);
                bj[k] = v;
                st[k] += v;
            }
            for (ptrdiff_t l = j * pf_xl / C; l < (j + 1) * pf_xl / C; l++)
                __builtin_prefetch((const void *)(pf_x + 64 * (uintptr_t)l), 0, 3);
            for (ptrdiff_t l = j * pf_gl / C; l < (j + 1) * pf_gl / C; l++)
                __builtin_prefetch((const void *)(pf_g + 64 * (uintptr_t)l), 1, 3);
        }
        /* loss w ((max - x_t) + log s); gradient factor a = w scale / s, and
         * the target entry a e_t - w scale in one rounding (p_t - 1 does not
         * cancel).  Ignored rows: loss 0 and a = 0, even when grad_scale or
         * the logits are not finite. */
        REAL *restrict lo = loss_out ? loss_out + q0 : lbuf;
        SKCE_SIMD_REDUCTION(+, total)
        for (IDX k = 0; k < ni; k++) {
            const int valid = ti[k] >= 0;
            const IDX tc = valid ? ti[k] : 0;
            const ACC s = st[k];
            const ACC w = wt[k];
            /* in double: max - x_t may exceed the float range (+-3e38 logits) */
            const double l = (double)w * (((double)mt[k] - (double)xt[k]) + (double)LOG_ACC(s));
            const double loss = valid ? l : 0.0;
            lo[k] = (REAL)loss;
            total += loss;
            const ACC bk = valid ? w * (ACC)scale : 0;
            const ACC ak = bk / s;
            a[k] = ak;
            gt[k] = ak * (ACC)buf[tc * ni + k] - bk;
        }
        if (!grad) continue;
        if (shape->n_pos == 1) {
            REAL *restrict g0 = grad + q0 * gs.sample;
            const ptrdiff_t rs = gs.sample;
#ifdef SKCE_HAVE_T4
            if (gs.cls == 1) {
                /* 4 rows x 4 classes at a time, transposed in registers:
                 * whole-vector stores along the rows */
                const ptrdiff_t C4 = C & ~(ptrdiff_t)3;
                ptrdiff_t k = 0;
                for (; k + 4 <= n; k += 4) {
                    V4 ak;   /* ACC is REAL here: lanes of a[] match those of V4 */
                    memcpy(&ak, a + k, sizeof ak);
                    REAL *restrict gk = g0 + k * rs;
                    for (ptrdiff_t j = 0; j < C4; j += 4) {
                        V4 v0, v1, v2, v3;
                        memcpy(&v0, buf + j * n + k, sizeof v0);
                        memcpy(&v1, buf + (j + 1) * n + k, sizeof v1);
                        memcpy(&v2, buf + (j + 2) * n + k, sizeof v2);
                        memcpy(&v3, buf + (j + 3) * n + k, sizeof v3);
                        v0 *= ak;
                        v1 *= ak;
                        v2 *= ak;
                        v3 *= ak;
                        SFX(skce_t4)(&v0, &v1, &v2, &v3);
                        memcpy(gk + j, &v0, sizeof v0);
                        memcpy(gk + rs + j, &v1, sizeof v1);
                        memcpy(gk + 2 * rs + j, &v2, sizeof v2);
                        memcpy(gk + 3 * rs + j, &v3, sizeof v3);
                    }
                    for (ptrdiff_t j = C4; j < C; j++) {
                        V4 v;
                        memcpy(&v, buf + j * n + k, sizeof v);
                        v *= ak;
                        gk[j] = v[0];
                        gk[rs + j] = v[1];
                        gk[2 * rs + j] = v[2];
                        gk[3 * rs + j] = v[3];
                    }
                }
                for (; k < n; k++)
                    for (ptrdiff_t j = 0; j < C; j++)
                        g0[k * rs + j] = (REAL)(a[k] * (ACC)buf[j * n + k]);
            } else
#endif
            for (ptrdiff_t j = 0; j < C; j++) {
                REAL *restrict dst = g0 + j * gs.cls;
                const REAL *restrict src = buf + j * n;
                SKCE_SIMD
                for (ptrdiff_t k = 0; k < n; k++) dst[k * rs] = (REAL)(a[k] * (ACC)src[k]);
            }
            for (ptrdiff_t k = 0; k < n; k++)
                g0[k * rs + (ti[k] >= 0 ? ti[k] : 0) * gs.cls] = (REAL)gt[k];
        } else {
            for (ptrdiff_t k = 0; k < n; k++) {
                REAL *gr = (REAL *)SFX(row_ptr)(grad, gs, shape, q0 + k);
                for (ptrdiff_t j = 0; j < C; j++)
                    gr[j * gs.cls] = (REAL)(a[k] * (ACC)buf[j * n + k]);
                gr[(ti[k] >= 0 ? ti[k] : 0) * gs.cls] = (REAL)gt[k];
            }
        }
    }
    return total;
}

SKCE_DISPATCH double SFX(skce_ce_index_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const int64_t *target,
    REAL *loss_out, REAL *grad, skce_strides3 gs)
{
    const double eps = opt->label_smoothing;
    if (eps == 0.0 && shape->n_classes <= SKCE_TRANSPOSE_MAX_C)
        return SFX(ce_index_tiles)(r0, r1, shape, opt, x, xs, target, loss_out, grad, gs);
    double W = (double)shape->n_classes;
    if (opt->class_weight) {
        W = 0.0;
        for (ptrdiff_t j = 0; j < shape->n_classes; j++) W += opt->class_weight[j];
    }
    double total = 0.0;
    SKCE_TILED_ROWS({
        int64_t t = target[i * shape->t_sample + d * shape->t_pos];
        if (t == opt->ignore_index) {
            if (gr) for (ptrdiff_t j = 0; j < C; j++) gr[j * gs.cls] = 0;
            if (loss_out) loss_out[r] = 0;
            continue;
        }
        double sw = opt->sample_weight ? opt->sample_weight[i] : 1.0;
        double loss = sw * SFX(ce_index_row)(xr, xs.cls, C, (ptrdiff_t)t, m_k, s_k, log_s_k, e, es,
                                            opt->class_weight, W, eps, opt->grad_scale * sw,
                                            gr, gs.cls);
        if (loss_out) loss_out[r] = (REAL)loss;
        total += loss;
    });
    return total;
}

SKCE_DISPATCH double SFX(skce_ce_prob_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const REAL *y,
    skce_strides3 ys, REAL *loss_out, REAL *grad, skce_strides3 gs)
{
    double total = 0.0;
    SKCE_TILED_ROWS({
        double sw = opt->sample_weight ? opt->sample_weight[i] : 1.0;
        const REAL *yr = y + i * ys.sample + d * ys.pos;
        double loss = sw * SFX(ce_prob_row)(xr, xs.cls, C, yr, ys.cls, m_k, s_k, log_s_k, e, es,
                                           opt->class_weight, opt->label_smoothing,
                                           opt->grad_scale * sw, gr, gs.cls);
        if (loss_out) loss_out[r] = (REAL)loss;
        total += loss;
    });
    return total;
}

SKCE_DISPATCH double SFX(skce_nll_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    const skce_ce_options *opt, const REAL *x, skce_strides3 xs, const int64_t *target,
    REAL *loss_out, REAL *grad, skce_strides3 gs)
{
    const ptrdiff_t C = shape->n_classes;
    double total = 0.0;
    for (ptrdiff_t r = r0; r < r1; r++) {
        ptrdiff_t i, d;
        SKCE_ROW_INDEX(r, shape, i, d);
        int64_t t = target[i * shape->t_sample + d * shape->t_pos];
        REAL *gr = grad ? grad + i * gs.sample + d * gs.pos : NULL;
        if (gr) for (ptrdiff_t j = 0; j < C; j++) gr[j * gs.cls] = 0;
        if (t == opt->ignore_index) {
            if (loss_out) loss_out[r] = 0;
            continue;
        }
        double w = (opt->class_weight ? opt->class_weight[t] : 1.0)
                   * (opt->sample_weight ? opt->sample_weight[i] : 1.0);
        double loss = -w * (double)x[i * xs.sample + d * xs.pos + t * xs.cls];
        if (gr) gr[t * gs.cls] = (REAL)(-w * opt->grad_scale);
        if (loss_out) loss_out[r] = (REAL)loss;
        total += loss;
    }
    return total;
}

SKCE_DISPATCH void SFX(skce_softmax_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_shape *shape,
    int log_output, const REAL *x, skce_strides3 xs, REAL *out, skce_strides3 os)
{
    REAL *grad = log_output ? NULL : out;   /* softmax: exp rows may go straight to out */
    skce_strides3 gs = os;
    SKCE_TILED_ROWS({
        REAL *o = out + i * os.sample + d * os.pos;
        if (log_output) {
            for (ptrdiff_t j = 0; j < C; j++)
                o[j * os.cls] = (REAL)(((double)xr[j * xs.cls] - (double)m_k) - log_s_k);
        } else {
            double inv_s = 1.0 / s_k;
            for (ptrdiff_t j = 0; j < C; j++)
                o[j * os.cls] = (REAL)((double)e[j * es] * inv_s);
        }
    });
}
