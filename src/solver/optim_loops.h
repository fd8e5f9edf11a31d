/* The loops of the optimizer steps, inlined into the dispatched steps of
 * optim_impl.h and into the lazy row steps of lazy_impl.h (for REAL = double
 * and float; optim.c and lazy.c instantiate them).
 * Semantics of torch.optim.SGD / Adam / AdamW / RMSprop / Adagrad (their
 * single-tensor code, operation for operation) on a flat parameter range,
 * plus an optional L1 proximal (soft-threshold) step after the update so
 * that exact zeros appear.  Elementwise, so any split of [0, n) into chunks
 * gives the same result. */

SKCE_INLINE REAL SFX(soft_threshold)(REAL w, REAL tau)
{
    REAL a = (w > 0 ? w : -w) - tau;
    a = a > 0 ? a : (REAL)0;
    return w > 0 ? a : (w < 0 ? -a : w);   /* 0 and NaN pass through */
}

/* use_buf (momentum) and adam_loop's amsgrad are constants in each inlined
 * copy: tested at run time inside the loop, the compiler if-converts the
 * unused state's read into a masked load, and a masked load on a page never
 * touched (the state is calloc'd) costs a microcode assist on every vector
 * (Adam on d = 200,000: 5x slower steps).  use_l1: without L1 the soft
 * threshold (10 instructions a vector) is left out; with l1 = 0 it is the
 * identity anyway, but for a NaN step length. */
SKCE_INLINE void SFX(sgd_loop)(const int use_buf, const int use_l1, ptrdiff_t n,
                               const skce_optim_options *o, REAL *restrict p,
                               const REAL *restrict g, REAL *restrict buf)
{
    const REAL lr = (REAL)o->lr, wd = (REAL)o->weight_decay, mom = (REAL)o->momentum;
    const REAL keep = (REAL)(1.0 - o->dampening), tau = (REAL)(o->lr * o->l1);
    const int first = o->step == 1, nesterov = o->nesterov;
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        REAL d = g[k] + wd * p[k];
        if (use_buf) {
            REAL b = first ? d : mom * buf[k] + keep * d;
            buf[k] = b;
            d = nesterov ? d + mom * b : b;
        }
        REAL w = p[k] - lr * d;
        p[k] = use_l1 ? SFX(soft_threshold)(w, tau) : w;
    }
}

SKCE_INLINE void SFX(adam_loop)(const int amsgrad, const int use_l1, ptrdiff_t n,
                                const skce_optim_options *o,
                                REAL *restrict p, const REAL *restrict g, REAL *restrict m,
                                REAL *restrict v, REAL *restrict vmax)
{
    const REAL b1 = (REAL)o->beta1, b2 = (REAL)o->beta2;
    const REAL eps = (REAL)o->eps;
    /* torch: step_size = lr / (1 - beta1^t); denom = sqrt(v) / sqrt(1 - beta2^t) + eps */
    const REAL step_size = (REAL)(o->lr / (1.0 - o->beta1_pow));
    const REAL bc2_sqrt = (REAL)sqrt(1.0 - o->beta2_pow);
    const REAL l1 = (REAL)o->l1;
    const int decoupled = o->decoupled;
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
        p[k] = use_l1 ? SFX(soft_threshold)(w, l1 * step_size / denom) : w;
    }
}

/* torch.optim.SparseAdam's step on the rows a batch touched (its functional
 * sparse_adam, operation for operation): m += (d - m)(1 - b1),
 * v += (d^2 - v)(1 - b2), p -= step_size (m / (sqrt(v) + eps)) with
 * step_size = lr sqrt(1 - b2^t) / (1 - b1^t).  One division and one square
 * root an element, where Adam's sqrt(v) / sqrt(1 - b2^t) + eps takes two
 * divisions: the divider bounds the lazy steps (a third of a lazy Adam
 * epoch).  What SparseAdam lacks (weight decay, AdamW's decoupled decay,
 * amsgrad, L1) is added as in adam_loop. */
SKCE_INLINE void SFX(sparse_adam_loop)(const int amsgrad, const int use_l1, ptrdiff_t n,
                                       const skce_optim_options *o,
                                       REAL *restrict p, const REAL *restrict g,
                                       REAL *restrict m, REAL *restrict v, REAL *restrict vmax)
{
    const REAL c1 = (REAL)(1.0 - o->beta1), c2 = (REAL)(1.0 - o->beta2);
    const REAL eps = (REAL)o->eps;
    const REAL step_size = (REAL)(o->lr * sqrt(1.0 - o->beta2_pow) / (1.0 - o->beta1_pow));
    const REAL l1 = (REAL)o->l1;
    const int decoupled = o->decoupled;
    const REAL wd = (REAL)o->weight_decay;
    const REAL decay = (REAL)(1.0 - o->lr * o->weight_decay);
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        REAL w = p[k];
        REAL d = g[k];
        if (decoupled) w = w * decay;
        else d = d + wd * w;
        const REAL m0 = m[k], v0 = v[k];
        const REAL mk = m0 + (d - m0) * c1;
        REAL vk = v0 + (d * d - v0) * c2;
        m[k] = mk;
        v[k] = vk;
        if (amsgrad) {
            vk = vmax[k] > vk ? vmax[k] : vk;
            vmax[k] = vk;
        }
        const REAL denom = sqrt(vk) + eps;
        w = w - step_size * (mk / denom);
        p[k] = use_l1 ? SFX(soft_threshold)(w, l1 * step_size / denom) : w;
    }
}

/* torch.optim.RMSprop: sq = rho sq + (1 - rho) d^2 (d = g + wd p); centered:
 * ga = lerp(ga, d, 1 - rho), avg = sqrt(sq - ga^2), else sqrt(sq); avg += eps;
 * momentum: buf = mom buf + d / avg, p -= lr buf; else p -= lr d / avg.
 * State: sq, buf (momentum), ga (centered), all zero at first. */
SKCE_INLINE void SFX(rmsprop_loop)(const int use_l1, ptrdiff_t n, const skce_optim_options *o,
                                          REAL *restrict p, const REAL *restrict g,
                                          REAL *restrict sq, REAL *restrict buf,
                                          REAL *restrict ga)
{
    const REAL lr = (REAL)o->lr, wd = (REAL)o->weight_decay, mom = (REAL)o->momentum;
    const REAL rho = (REAL)o->rho, w = (REAL)(1.0 - o->rho), eps = (REAL)o->eps;
    const REAL w_rest = (REAL)(1.0 - (1.0 - o->rho));
    const REAL l1 = (REAL)o->l1;
    /* torch's lerp: start + w (end - start) for w < 0.5, else end - (end - start)(1 - w) */
    const int lerp_low = (1.0 - o->rho) < 0.5;
    const int centered = o->centered, use_buf = o->momentum > 0.0;
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        const REAL d = g[k] + wd * p[k];
        /* torch's addcmul / addcdiv evaluate self + (value * t1) * t2 and
         * self + (value * t1) / t2: the same order here */
        const REAL s = rho * sq[k] + (w * d) * d;
        sq[k] = s;
        REAL avg;
        if (centered) {
            const REAL a = ga[k];
            const REAL gk = lerp_low ? a + w * (d - a) : d - (d - a) * w_rest;
            ga[k] = gk;
            avg = sqrt(s - gk * gk);
        } else {
            avg = sqrt(s);
        }
        avg = avg + eps;
        REAL x;
        if (use_buf) {
            const REAL b = mom * buf[k] + d / avg;
            buf[k] = b;
            x = p[k] - lr * b;
        } else {
            x = p[k] + (-lr * d) / avg;
        }
        p[k] = use_l1 ? SFX(soft_threshold)(x, l1 * lr / avg) : x;
    }
}

/* torch.optim.Adagrad: clr = lr / (1 + (t - 1) lr_decay); sum += d^2 (sum
 * starting at initial_accumulator_value, read on step 1 instead of the
 * state); p -= clr d / (sqrt(sum) + eps). */
SKCE_INLINE void SFX(adagrad_loop)(const int use_l1, ptrdiff_t n, const skce_optim_options *o,
                                          REAL *restrict p, const REAL *restrict g,
                                          REAL *restrict sum)
{
    const double clr_d = o->lr / (1.0 + (double)(o->step - 1) * o->lr_decay);
    const REAL clr = (REAL)clr_d, wd = (REAL)o->weight_decay, eps = (REAL)o->eps;
    const REAL init = (REAL)o->initial_accumulator_value, l1 = (REAL)o->l1;
    const int first = o->step == 1;
    SKCE_SIMD
    for (ptrdiff_t k = 0; k < n; k++) {
        const REAL d = g[k] + wd * p[k];
        const REAL s = (first ? init : sum[k]) + d * d;
        sum[k] = s;
        const REAL std = sqrt(s) + eps;
        const REAL x = p[k] + (-clr * d) / std;
        p[k] = use_l1 ? SFX(soft_threshold)(x, l1 * clr / std) : x;
    }
}

SKCE_INLINE void SFX(running_mean_loop)(ptrdiff_t n, int64_t count, REAL *restrict mean,
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

/* One optimizer's step on p[0 .. n) (the switch skce_optimizer_step makes;
 * inline, so that a caller with a constant optimizer keeps one loop).  A
 * state an optimizer does not use is neither read nor written: the
 * specialized loops make sure no masked load goes near it. */
SKCE_INLINE void SFX(optimizer_loop)(int optimizer, ptrdiff_t n, const skce_optim_options *o,
                                     REAL *p, const REAL *g, REAL *state1, REAL *state2,
                                     REAL *state3)
{
    const int l1 = o->l1 != 0.0;
    switch (optimizer) {
    case SKCE_ADAM:
        if (o->amsgrad)
            l1 ? SFX(adam_loop)(1, 1, n, o, p, g, state1, state2, state3)
               : SFX(adam_loop)(1, 0, n, o, p, g, state1, state2, state3);
        else
            l1 ? SFX(adam_loop)(0, 1, n, o, p, g, state1, state2, NULL)
               : SFX(adam_loop)(0, 0, n, o, p, g, state1, state2, NULL);
        break;
    case SKCE_RMSPROP:
        l1 ? SFX(rmsprop_loop)(1, n, o, p, g, state1, state2, state3)
           : SFX(rmsprop_loop)(0, n, o, p, g, state1, state2, state3);
        break;
    case SKCE_ADAGRAD:
        l1 ? SFX(adagrad_loop)(1, n, o, p, g, state1) : SFX(adagrad_loop)(0, n, o, p, g, state1);
        break;
    default:   /* SKCE_SGD */
        if (o->momentum != 0.0)
            l1 ? SFX(sgd_loop)(1, 1, n, o, p, g, state1) : SFX(sgd_loop)(1, 0, n, o, p, g, state1);
        else
            l1 ? SFX(sgd_loop)(0, 1, n, o, p, g, NULL) : SFX(sgd_loop)(0, 0, n, o, p, g, NULL);
        break;
    }
}
