/* Elementwise loss kernels (BCE with logits, BCE on probabilities, MSE,
 * Huber, binary hinge, hinge embedding),
 * instantiated by elementwise.c for REAL = double and REAL = float (SFX(name)
 * appends _f64 / _f32; EXP and LOG1P01 are the matching exp and log1p on
 * [0, 1], LOGF and LOG1P libm's log and log1p, as torch calls them).
 *
 * Each loss has a run function over `len` equally spaced elements.  A block
 * whose arrays are all "flat" (every row of every sample at one spacing, as
 * for C-contiguous arrays) is one run per sample-weight value (the whole
 * block without sample weights); otherwise each row is a run.  With unit
 * spacing the run function is inlined with literal strides and output flags,
 * so the loop is a plain SIMD loop.  Losses are computed in REAL and summed
 * in double. */

#ifndef SKCE_EW_RUN_ARGS
/* Elements per BCE tile (its exp and loss buffers live on the stack). */
#define SKCE_EW_TILE 512

/* The arguments of every run function: x, y, the element weight w and the
 * BCE pos_weight pw (stride 0 for a constant), the loss factor lc and the
 * gradient factor gc, the losses into lo (stride 1) when want_lo, the
 * gradient into g when want_g.  Returns the sum of the losses. */
#define SKCE_EW_RUN_ARGS                                                                   \
    ptrdiff_t len, const REAL *restrict x, ptrdiff_t xs, const REAL *restrict y,            \
    ptrdiff_t ys, const REAL *restrict w, ptrdiff_t wst, const REAL *restrict pw,           \
    ptrdiff_t pwst, REAL lc, REAL gc, const skce_ew_options *opt, int *flags,               \
    REAL *restrict lo, REAL *restrict g, ptrdiff_t gs, const int want_lo, const int want_g

/* RUN with unit strides for x, y and g, w / pw strides WS / PWS (0 or 1),
 * and literal flags for writing losses and gradients. */
#define SKCE_EW_UNIT(RUN, WS, PWS)                                                          \
    (lo ? (g ? RUN(len, x, 1, y, 1, w, WS, pw, PWS, lc, gc, opt, flags, lo, g, 1, 1, 1)     \
            : RUN(len, x, 1, y, 1, w, WS, pw, PWS, lc, gc, opt, flags, lo, g, 1, 1, 0))     \
        : (g ? RUN(len, x, 1, y, 1, w, WS, pw, PWS, lc, gc, opt, flags, lo, g, 1, 0, 1)     \
            : RUN(len, x, 1, y, 1, w, WS, pw, PWS, lc, gc, opt, flags, lo, g, 1, 0, 0)))

/* As SKCE_EW_UNIT, with whether losses are written left to RUN (run time). */
#define SKCE_EW_UNIT_G(RUN, WS, PWS)                                                        \
    (g ? RUN(len, x, 1, y, 1, w, WS, pw, PWS, lc, gc, opt, flags, lo, g, 1, 1, 1)           \
       : RUN(len, x, 1, y, 1, w, WS, pw, PWS, lc, gc, opt, flags, lo, g, 1, 1, 0))

/* NAME(unit, run arguments): RUN with literal strides and output flags when
 * `unit` (x, y, g of stride 1, w and pw of stride 0 or 1), with runtime
 * strides otherwise.  WITH_PW (BCE): the loss reads pw (else pw is ignored)
 * and RUN handles a NULL lo itself. */
#define SKCE_EW_DEFINE_ANY(NAME, RUN, WITH_PW)                                              \
    SKCE_INLINE double NAME(int unit, ptrdiff_t len, const REAL *x, ptrdiff_t xs,           \
        const REAL *y, ptrdiff_t ys, const REAL *w, ptrdiff_t wst, const REAL *pw,          \
        ptrdiff_t pwst, REAL lc, REAL gc, const skce_ew_options *opt, int *flags,           \
        REAL *lo, REAL *g, ptrdiff_t gs)                                                    \
    {                                                                                       \
        if (unit) {                                                                         \
            if (WITH_PW) {                                                                  \
                if (pwst)                                                                   \
                    return wst ? SKCE_EW_UNIT_G(RUN, 1, 1) : SKCE_EW_UNIT_G(RUN, 0, 1);     \
                return wst ? SKCE_EW_UNIT_G(RUN, 1, 0) : SKCE_EW_UNIT_G(RUN, 0, 0);         \
            }                                                                               \
            return wst ? SKCE_EW_UNIT(RUN, 1, 0) : SKCE_EW_UNIT(RUN, 0, 0);                 \
        }                                                                                   \
        return RUN(len, x, xs, y, ys, w, wst, pw, pwst, lc, gc, opt, flags, lo, g, gs,      \
                   lo != NULL, g != NULL);                                                  \
    }

/* The body of a block function: runs over rows [r0, r1) with ANY. */
#define SKCE_EW_BLOCK(ANY)                                                                  \
    do {                                                                                    \
        const ptrdiff_t R = opt->n_rows, L = opt->n_cols;                                   \
        const skce_strides_nrl zero = {0, 0, 0};                                            \
        if (!w) { w = &one; ws = zero; }                                                    \
        if (!pw) { pw = &one; ps = zero; }                                                  \
        if (!grad) gs = xs;                                                                 \
        const int flat = SKCE_NRL_FLAT(xs, R, L) && SKCE_NRL_FLAT(ys, R, L)                 \
                         && SKCE_NRL_FLAT(ws, R, L) && SKCE_NRL_FLAT(ps, R, L)              \
                         && SKCE_NRL_FLAT(gs, R, L);                                        \
        const int unit = xs.col == 1 && ys.col == 1 && gs.col == 1                          \
                         && (ws.col == 0 || ws.col == 1) && (ps.col == 0 || ps.col == 1);   \
        for (ptrdiff_t r = r0; r < r1;) {                                                   \
            ptrdiff_t re = r1;                                                              \
            double sw = 1.0;                                                                \
            if (opt->sample_weight) {                                                       \
                const ptrdiff_t i_ = r / R;                                                 \
                sw = opt->sample_weight[i_];                                                \
                re = (i_ + 1) * R < r1 ? (i_ + 1) * R : r1;                                 \
            }                                                                               \
            const REAL lc = (REAL)sw, gc = (REAL)(sw * opt->grad_scale);                    \
            const ptrdiff_t nq = flat ? 1 : re - r;                                         \
            const ptrdiff_t len = flat ? (re - r) * L : L;                                  \
            for (ptrdiff_t q = r; q < r + nq; q++) {                                        \
                total += ANY(unit, len, x + skce_nrl_offset(xs, q, R), xs.col,              \
                             y + skce_nrl_offset(ys, q, R), ys.col,                         \
                             w + skce_nrl_offset(ws, q, R), ws.col,                         \
                             pw + skce_nrl_offset(ps, q, R), ps.col, lc, gc, opt, &flags,   \
                             loss_out ? loss_out + q * L : NULL,                            \
                             grad ? grad + skce_nrl_offset(gs, q, R) : NULL, gs.col);       \
            }                                                                               \
            r = re;                                                                         \
        }                                                                                   \
    } while (0)
#endif /* SKCE_EW_RUN_ARGS */

/* ---- run functions ---- */

/* (x - y)^2; gradient 2 (x - y). */
SKCE_INLINE double SFX(mse_run)(SKCE_EW_RUN_ARGS)
{
    (void)pw; (void)pwst; (void)opt; (void)flags;
    double acc = 0.0;
    SKCE_SIMD_REDUCTION(+, acc)
    for (ptrdiff_t k = 0; k < len; k++) {
        const REAL r = x[k * xs] - y[k * ys];
        const REAL wk = w[k * wst];
        const REAL l = (wk * lc) * (r * r);
        acc += (double)l;
        if (want_lo) lo[k] = l;
        if (want_g) g[k * gs] = (wk * gc) * (r + r);
    }
    return acc;
}

/* 0.5 r^2 if |r| < delta else delta (|r| - 0.5 delta); gradient clamp(r, -delta, delta). */
SKCE_INLINE double SFX(huber_run)(SKCE_EW_RUN_ARGS)
{
    (void)pw; (void)pwst; (void)flags;
    const REAL delta = (REAL)opt->delta, half_delta = (REAL)(0.5 * opt->delta);
    double acc = 0.0;
    SKCE_SIMD_REDUCTION(+, acc)
    for (ptrdiff_t k = 0; k < len; k++) {
        const REAL r = x[k * xs] - y[k * ys];
        const REAL a = r < 0 ? -r : r;
        const REAL wk = w[k * wst];
        const REAL h = a < delta ? (REAL)0.5 * r * r : delta * (a - half_delta);
        const REAL l = (wk * lc) * h;
        acc += (double)l;
        if (want_lo) lo[k] = l;
        if (want_g) {
            const REAL c = r < -delta ? -delta : (r > delta ? delta : r);
            g[k * gs] = (wk * gc) * c;
        }
    }
    return acc;
}

/* max(0, margin - s x) (squared: its square) with s = +1 for y > 0, else -1;
 * subgradient 0 where the margin is met exactly.  Label flags into *flags. */
SKCE_INLINE double SFX(hinge_core)(SKCE_EW_RUN_ARGS, const int squared)
{
    (void)pw; (void)pwst;
    const REAL margin = (REAL)opt->margin;
    /* label counts: n_bad = len - (n_plus + n_zero + n_minus), so that the
     * loop has only plain compare-and-select (no or-ed comparisons) */
    double acc = 0.0, n_plus = 0.0, n_zero = 0.0, n_minus = 0.0;
    SKCE_SIMD_REDUCTION_SUM4(acc, n_plus, n_zero, n_minus)
    for (ptrdiff_t k = 0; k < len; k++) {
        const REAL yk = y[k * ys];
        const REAL s = yk > 0 ? (REAL)1 : (REAL)-1;
        const REAL m = margin - s * x[k * xs];
        const REAL h = m < 0 ? (REAL)0 : m;     /* NaN input stays NaN */
        const REAL wk = w[k * wst];
        const REAL l = (wk * lc) * (squared ? h * h : h);
        acc += (double)l;
        n_plus += yk == 1 ? 1.0 : 0.0;
        n_zero += yk == 0 ? 1.0 : 0.0;
        n_minus += yk == -1 ? 1.0 : 0.0;
        if (want_lo) lo[k] = l;
        if (want_g) {
            const REAL d = squared ? (h + h) : (m > 0 ? (REAL)1 : (REAL)0);
            g[k * gs] = (wk * gc) * (-s * d);
        }
    }
    *flags |= (n_zero > 0 ? SKCE_LABEL_ZERO : 0) | (n_minus > 0 ? SKCE_LABEL_MINUS_ONE : 0)
              | (n_plus + n_zero + n_minus != (double)len ? SKCE_LABEL_INVALID : 0);
    return acc;
}

SKCE_INLINE double SFX(hinge_run)(SKCE_EW_RUN_ARGS)
{
    return SFX(hinge_core)(len, x, xs, y, ys, w, wst, pw, pwst, lc, gc, opt, flags, lo, g, gs,
                           want_lo, want_g, 0);
}

SKCE_INLINE double SFX(sq_hinge_run)(SKCE_EW_RUN_ARGS)
{
    return SFX(hinge_core)(len, x, xs, y, ys, w, wst, pw, pwst, lc, gc, opt, flags, lo, g, gs,
                           want_lo, want_g, 1);
}

/* With lw = 1 + (pw - 1) y and e = exp(-|x|) (never overflows):
 *   loss = (1 - y) x + lw (log1p(e) + max(-x, 0))
 *        = (x >= 0 ? (1 - y) x : -pw y x) + lw log1p(e)
 * (the second form has no cancellation for y in [0, 1]);
 *   d/dx = (1 - y) - lw sigmoid(-x)
 *        = (x >= 0 ? (1 - y) - pw y e : (1 - y) e - pw y) / (1 + e). */
SKCE_INLINE double SFX(bce_run)(SKCE_EW_RUN_ARGS)
{
    (void)opt; (void)flags;
    /* In tiles: exp(-|x|) of a tile in one short loop, then the rest, so
     * that more independent iterations of the long polynomial chains are in
     * flight at once (about 1.5x faster than one fused loop). */
    REAL e_buf[SKCE_EW_TILE], l_buf[SKCE_EW_TILE];
    (void)want_lo;   /* losses go to l_buf when lo is NULL: one loop version less */
    double acc = 0.0;
    for (ptrdiff_t k0 = 0; k0 < len; k0 += SKCE_EW_TILE) {
        const ptrdiff_t nk = len - k0 < SKCE_EW_TILE ? len - k0 : SKCE_EW_TILE;
        const REAL *restrict xt = x + k0 * xs;
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < nk; k++) {
            const REAL xk = xt[k * xs];
            e_buf[k] = EXP(xk < 0 ? xk : -xk);
        }
        const REAL *restrict yt = y + k0 * ys, *restrict pt = pw + k0 * pwst;
        const REAL *restrict wt = w + k0 * wst;
        REAL *restrict lt = lo ? lo + k0 : l_buf;
        REAL *restrict gt = want_g ? g + k0 * gs : g;
        SKCE_SIMD_REDUCTION(+, acc)
        for (ptrdiff_t k = 0; k < nk; k++) {
            const REAL xk = xt[k * xs], yk = yt[k * ys], pk = pt[k * pwst], wk = wt[k * wst];
            const REAL e = e_buf[k];
            const REAL lw = (REAL)1 + (pk - (REAL)1) * yk;
            const REAL py = pk * yk, ny = (REAL)1 - yk;
            const int pos = xk >= 0;
            const REAL lin = pos ? ny * xk : -py * xk;
            const REAL l = (wk * lc) * (lin + lw * LOG1P01(e));
            acc += (double)l;
            lt[k] = l;
            if (want_g) {
                const REAL num = pos ? ny - py * e : ny * e - py;
                gt[k * gs] = (wk * gc) * (num / ((REAL)1 + e));
            }
        }
    }
    return acc;
}

/* torch.nn.functional.binary_cross_entropy on probabilities p:
 *   loss = (y - 1) max(log1p(-p), -100) - y max(log p, -100)
 *   d/dp = (p - y) / max((1 - p) p, 1e-12f)
 * (torch's forward and its backward formula, both in REAL, so p = 0 or 1
 * stays finite).  p outside [0, 1] or NaN sets SKCE_PROB_INVALID. */
SKCE_INLINE double SFX(bce_prob_run)(SKCE_EW_RUN_ARGS)
{
    (void)pw; (void)pwst; (void)opt;
    /* torch's EPSILON is the float 1e-12f, also in double */
    const REAL floor_log = (REAL)-100, eps = (REAL)1e-12f;
    double acc = 0.0;
    int bad = 0;
    for (ptrdiff_t k = 0; k < len; k++) {
        const REAL p = x[k * xs], yk = y[k * ys];
        bad |= !(p >= 0 && p <= 1);
        REAL a = LOG1P(-p), b = LOGF(p);
        a = a > floor_log ? a : floor_log;
        b = b > floor_log ? b : floor_log;
        const REAL wk = w[k * wst];
        const REAL l = (wk * lc) * ((yk - (REAL)1) * a - yk * b);
        acc += (double)l;
        if (want_lo) lo[k] = l;
        if (want_g) {
            REAL d = ((REAL)1 - p) * p;
            d = d > eps ? d : eps;
            g[k * gs] = (wk * gc) * ((p - yk) / d);
        }
    }
    if (bad) *flags |= SKCE_PROB_INVALID;
    return acc;
}

/* torch.nn.functional.hinge_embedding_loss for y in {-1, +1}: x where
 * y = 1, max(0, margin - x) where y = -1; autograd's gradient 1, and -1
 * where margin - x >= 0 (clamp_min passes the gradient at the boundary).
 * A target outside {-1, +1} sets SKCE_LABEL_INVALID. */
SKCE_INLINE double SFX(hinge_embedding_run)(SKCE_EW_RUN_ARGS)
{
    (void)pw; (void)pwst;
    const REAL margin = (REAL)opt->margin;
    double acc = 0.0, n_plus = 0.0, n_minus = 0.0, n_zero = 0.0;
    SKCE_SIMD_REDUCTION_SUM4(acc, n_plus, n_minus, n_zero)
    for (ptrdiff_t k = 0; k < len; k++) {
        const REAL xk = x[k * xs], yk = y[k * ys];
        const int pos = yk == 1;
        const REAL m = margin - xk;
        const REAL h = m < 0 ? (REAL)0 : m;     /* NaN input stays NaN */
        const REAL wk = w[k * wst];
        const REAL l = (wk * lc) * (pos ? xk : h);
        acc += (double)l;
        n_plus += pos ? 1.0 : 0.0;
        n_minus += yk == -1 ? 1.0 : 0.0;
        if (want_lo) lo[k] = l;
        if (want_g) g[k * gs] = (wk * gc) * (pos ? (REAL)1 : (m >= 0 ? (REAL)-1 : (REAL)0));
    }
    (void)n_zero;
    if (n_plus + n_minus != (double)len) *flags |= SKCE_LABEL_INVALID;
    return acc;
}

SKCE_EW_DEFINE_ANY(SFX(mse_any), SFX(mse_run), 0)
SKCE_EW_DEFINE_ANY(SFX(huber_any), SFX(huber_run), 0)
SKCE_EW_DEFINE_ANY(SFX(hinge_any), SFX(hinge_run), 0)
SKCE_EW_DEFINE_ANY(SFX(sq_hinge_any), SFX(sq_hinge_run), 0)
SKCE_EW_DEFINE_ANY(SFX(bce_any), SFX(bce_run), 1)
SKCE_EW_DEFINE_ANY(SFX(bce_prob_any), SFX(bce_prob_run), 0)
SKCE_EW_DEFINE_ANY(SFX(hinge_embedding_any), SFX(hinge_embedding_run), 0)

/* out[k] = sigmoid(x[k]), or log sigmoid(x[k]) with log_output, for
 * contiguous x and out.  From e = exp(-|x|) (never overflows): sigmoid is
 * 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0 (full relative precision
 * of tiny values), log sigmoid is min(x, 0) - log1p(e), as torch computes it. */
SKCE_DISPATCH void SFX(skce_sigmoid)(ptrdiff_t n, const REAL *restrict x, REAL *restrict out,
                                     int log_output)
{
    if (log_output) {
        SKCE_SIMD
        for (ptrdiff_t k = 0; k < n; k++) {
            const REAL v = x[k], a = v < 0 ? v : -v;
            out[k] = (v < 0 ? v : (REAL)0) - LOG1P01(EXP(a));
        }
        return;
    }
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        const REAL v = x[k], a = v < 0 ? v : -v;
        const REAL e = EXP(a);
        const REAL r = (REAL)1 / ((REAL)1 + e);
        out[k] = v < 0 ? e * r : r;
    }
}

/* ---- block functions ---- */

SKCE_DISPATCH double SFX(skce_bce_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,
    const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,
    const REAL *w, skce_strides_nrl ws, const REAL *pw, skce_strides_nrl ps,
    REAL *loss_out, REAL *grad, skce_strides_nrl gs)
{
    const REAL one = 1;
    double total = 0.0;
    int flags = 0;
    SKCE_EW_BLOCK(SFX(bce_any));
    return total;
}

SKCE_DISPATCH double SFX(skce_mse_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,
    const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,
    const REAL *w, skce_strides_nrl ws, REAL *loss_out, REAL *grad, skce_strides_nrl gs)
{
    const REAL one = 1;
    const REAL *pw = NULL;
    skce_strides_nrl ps;
    double total = 0.0;
    int flags = 0;
    SKCE_EW_BLOCK(SFX(mse_any));
    return total;
}

SKCE_DISPATCH double SFX(skce_huber_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,
    const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,
    const REAL *w, skce_strides_nrl ws, REAL *loss_out, REAL *grad, skce_strides_nrl gs)
{
    const REAL one = 1;
    const REAL *pw = NULL;
    skce_strides_nrl ps;
    double total = 0.0;
    int flags = 0;
    SKCE_EW_BLOCK(SFX(huber_any));
    return total;
}

SKCE_DISPATCH double SFX(skce_hinge_block)(ptrdiff_t r0, ptrdiff_t r1, const skce_ew_options *opt,
    const REAL *x, skce_strides_nrl xs, const REAL *y, skce_strides_nrl ys,
    const REAL *w, skce_strides_nrl ws, REAL *loss_out, REAL *grad, skce_strides_nrl gs,
    int *label_flags)
{
    const REAL one = 1;
    const REAL *pw = NULL;
    skce_strides_nrl ps;
    double total = 0.0;
    int flags = 0;
    if (opt->kind == SKCE_BCE_PROB)
        SKCE_EW_BLOCK(SFX(bce_prob_any));
    else if (opt->kind == SKCE_HINGE_EMBEDDING)
        SKCE_EW_BLOCK(SFX(hinge_embedding_any));
    else if (opt->squared)
        SKCE_EW_BLOCK(SFX(sq_hinge_any));
    else
        SKCE_EW_BLOCK(SFX(hinge_any));
    *label_flags |= flags;
    return total;
}
