/* Optimizer steps, instantiated by optim.c for REAL = double and float.
 * Semantics of torch.optim.SGD / Adam / AdamW on a flat parameter range,
 * plus an optional L1 proximal (soft-threshold) step after the update so
 * that exact zeros appear.  Elementwise, so any split of [0, n) into chunks
 * gives the same result. */

SKCE_INLINE REAL SFX(soft_threshold)(REAL w, REAL tau)
{
    REAL a = (w > 0 ? w : -w) - tau;
    a = a > 0 ? a : (REAL)0;
    return w > 0 ? a : (w < 0 ? -a : w);   /* 0 and NaN pass through */
}

SKCE_DISPATCH void SFX(skce_sgd_step)(ptrdiff_t n, const skce_optim_options *o,
                                      REAL *restrict p, const REAL *restrict g,
                                      REAL *restrict buf)
{
    const REAL lr = (REAL)o->lr, wd = (REAL)o->weight_decay, mom = (REAL)o->momentum;
    const REAL keep = (REAL)(1.0 - o->dampening), tau = (REAL)(o->lr * o->l1);
    const int first = o->step == 1, nesterov = o->nesterov, use_buf = o->momentum != 0.0;
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        REAL d = g[k] + wd * p[k];
        if (use_buf) {
            REAL b = first ? d : mom * buf[k] + keep * d;
            buf[k] = b;
            d = nesterov ? d + mom * b : b;
        }
        REAL w = p[k] - lr * d;
        p[k] = SFX(soft_threshold)(w, tau);
    }
}

SKCE_DISPATCH void SFX(skce_adam_step)(ptrdiff_t n, const skce_optim_options *o,
                                       REAL *restrict p, const REAL *restrict g,
                                       REAL *restrict m, REAL *restrict v, REAL *restrict vmax)
{
    const REAL lr = (REAL)o->lr, b1 = (REAL)o->beta1, b2 = (REAL)o->beta2;
    const REAL eps = (REAL)o->eps;
    /* torch: step_size = lr / (1 - beta1^t); denom = sqrt(v) / sqrt(1 - beta2^t) + eps */
    const REAL step_size = (REAL)(o->lr / (1.0 - pow(o->beta1, (double)o->step)));
    const REAL bc2_sqrt = (REAL)sqrt(1.0 - pow(o->beta2, (double)o->step));
    const REAL l1 = (REAL)o->l1;
    const int decoupled = o->decoupled, amsgrad = o->amsgrad;
    const REAL wd = (REAL)o->weight_decay;
    const REAL decay = (REAL)(1.0 - o->lr * o->weight_decay);
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        REAL w = p[k];
        REAL d = g[k];
        if (decoupled) w = w * decay;
        else d = d + wd * w;
        REAL mk = b1 * m[k] + (1 - b1) * d;
        REAL vk = b2 * v[k] + (1 - b2) * (d * d);
        m[k] = mk;
        v[k] = vk;
        if (amsgrad) {
            vk = vmax[k] > vk ? vmax[k] : vk;
            vmax[k] = vk;
        }
        REAL denom = sqrt(vk) / bc2_sqrt + eps;
        w = w - step_size * (mk / denom);
        /* proximal L1 step with the same per-coordinate step length */
        p[k] = SFX(soft_threshold)(w, l1 * step_size / denom);
    }
}

SKCE_DISPATCH void SFX(skce_running_mean)(ptrdiff_t n, int64_t count, REAL *restrict mean,
                                          const REAL *restrict p)
{
    if (count <= 1) {
        for (ptrdiff_t k = 0; k < n; k++)
            mean[k] = p[k];
        return;
    }
    const REAL w = (REAL)(1.0 / (double)count);
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++)
        mean[k] += w * (p[k] - mean[k]);
}

/* Not dispatched itself: it only picks the (dispatched) step. */
void SFX(skce_optimizer_step)(int optimizer, ptrdiff_t n, const skce_optim_options *o,
                              REAL *p, const REAL *g, REAL *state1, REAL *state2,
                              REAL *state3)
{
    switch (optimizer) {
    case SKCE_ADAM:
        SFX(skce_adam_step)(n, o, p, g, state1, state2, state3);
        break;
    default:   /* SKCE_SGD */
        SFX(skce_sgd_step)(n, o, p, g, state1);
        break;
    }
}
