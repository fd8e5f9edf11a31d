/* Multi-class margin kernels, instantiated by margin.c for REAL = double and
 * REAL = float (SFX(name) appends _f64 / _f32).
 *
 * Per row (sample) with target class t, before the weight w_t sw_i:
 *   Weston-Watkins (torch's multi_margin_loss):
 *     sum_{j != t} max(0, margin - x_t + x_j)^p / C
 *   Crammer-Singer:
 *     max(0, margin + max_{j != t} x_j - x_t)^p
 *     (subgradient on the first maximizing j).
 * The row functions are inlined with literal p, stride and gradient flag. */

/* Weston-Watkins row sum (not divided by C); gradient entries times gcoef
 * into g when want_g, g[t] = -(sum of the others). */
SKCE_INLINE double SFX(ww_row)(const REAL *restrict x, ptrdiff_t xs, ptrdiff_t C, ptrdiff_t t,
                               REAL margin, const int p, REAL gcoef, REAL *restrict g,
                               ptrdiff_t gs, const int want_g)
{
    const REAL base = margin - x[t * xs];
    double acc = 0.0, gsum = 0.0;
    SKCE_SIMD_REDUCTION_SUM2(acc, gsum)
    for (ptrdiff_t j = 0; j < C; j++) {
        const REAL z = base + x[j * xs];
        const int on = (z > 0) & (j != t);
        const REAL h = on ? z : (REAL)0;
        acc += (double)(p == 2 ? h * h : h);
        if (want_g) {
            const REAL gj = on ? gcoef * (p == 2 ? h + h : (REAL)1) : (REAL)0;
            g[j * gs] = gj;
            gsum += (double)gj;
        }
    }
    if (want_g) g[t * gs] = (REAL)(-gsum);
    return acc;
}

/* Crammer-Singer row loss; gradient as ww_row. */
SKCE_INLINE double SFX(cs_row)(const REAL *restrict x, ptrdiff_t xs, ptrdiff_t C, ptrdiff_t t,
                               REAL margin, const int p, REAL gcoef, REAL *restrict g,
                               ptrdiff_t gs, const int want_g)
{
    REAL m = (REAL)-INFINITY;
    SKCE_SIMD_REDUCTION(max, m)
    for (ptrdiff_t j = 0; j < C; j++) {
        const REAL v = j != t ? x[j * xs] : (REAL)-INFINITY;
        m = v > m ? v : m;
    }
    const REAL z = (margin + m) - x[t * xs];
    const int on = z > 0;
    const REAL h = on ? z : (REAL)0;
    if (want_g) {
        SKCE_SIMD
        for (ptrdiff_t j = 0; j < C; j++) g[j * gs] = 0;
        if (on) {
            ptrdiff_t js = 0;
            while (js < C && (js == t || !(x[js * xs] == m))) js++;
            if (js < C) {
                const REAL gj = gcoef * (p == 2 ? h + h : (REAL)1);
                g[js * gs] = gj;
                g[t * gs] = -gj;
            }
        }
    }
    return (double)(p == 2 ? h * h : h);
}

#define SKCE_MM_ROW(ROW, P, XS, GS, WG) ROW(xr, XS, C, (ptrdiff_t)t, margin, P, gcoef, gr, GS, WG)
#define SKCE_MM_ROW_G(ROW, P, XS, GS) \
    (gr ? SKCE_MM_ROW(ROW, P, XS, GS, 1) : SKCE_MM_ROW(ROW, P, XS, GS, 0))
#define SKCE_MM_ROW_P(ROW, XS, GS) \
    (p == 2 ? SKCE_MM_ROW_G(ROW, 2, XS, GS) : SKCE_MM_ROW_G(ROW, 1, XS, GS))

SKCE_DISPATCH double SFX(skce_multi_margin_block)(ptrdiff_t r0, ptrdiff_t r1,
    const skce_margin_options *opt, const REAL *x, skce_strides2 xs,
    const int64_t *target, REAL *loss_out, REAL *grad, skce_strides2 gs,
    ptrdiff_t *bad_row)
{
    const ptrdiff_t C = opt->n_classes;
    const REAL margin = (REAL)opt->margin;
    const int p = opt->p;
    const int unit = xs.cls == 1 && (!grad || gs.cls == 1);
    const double inv_c = opt->crammer_singer ? 1.0 : 1.0 / (double)C;
    double total = 0.0;
    for (ptrdiff_t r = r0; r < r1; r++) {
        const int64_t t = target[r * opt->t_stride];
        if (t < 0 || t >= C) {
            *bad_row = r;
            return total;
        }
        const double coef = (opt->class_weight ? opt->class_weight[t] : 1.0) * inv_c
                            * (opt->sample_weight ? opt->sample_weight[r] : 1.0);
        const REAL gcoef = (REAL)(coef * opt->grad_scale);
        const REAL *xr = x + r * xs.sample;
        REAL *gr = grad ? grad + r * gs.sample : NULL;
        double row;
        if (opt->crammer_singer)
            row = unit ? SKCE_MM_ROW_P(SFX(cs_row), 1, 1) : SKCE_MM_ROW_P(SFX(cs_row), xs.cls, gs.cls);
        else
            row = unit ? SKCE_MM_ROW_P(SFX(ww_row), 1, 1) : SKCE_MM_ROW_P(SFX(ww_row), xs.cls, gs.cls);
        const double loss = coef * row;
        if (loss_out) loss_out[r] = (REAL)loss;
        total += loss;
    }
    return total;
}

#undef SKCE_MM_ROW
#undef SKCE_MM_ROW_G
#undef SKCE_MM_ROW_P
