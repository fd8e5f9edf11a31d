/* Optimizer steps, instantiated by optim.c for REAL = double and float:
 * the loops of optim_loops.h (torch.optim's semantics, see there), compiled
 * for the dispatched instruction sets. */

SKCE_DISPATCH void SFX(skce_sgd_step)(ptrdiff_t n, const skce_optim_options *o,
                                      REAL *restrict p, const REAL *restrict g,
                                      REAL *restrict buf)
{
    SFX(optimizer_loop)(SKCE_SGD, n, o, p, g, buf, NULL, NULL);
}

SKCE_DISPATCH void SFX(skce_adam_step)(ptrdiff_t n, const skce_optim_options *o,
                                       REAL *restrict p, const REAL *restrict g,
                                       REAL *restrict m, REAL *restrict v, REAL *restrict vmax)
{
    SFX(optimizer_loop)(SKCE_ADAM, n, o, p, g, m, v, vmax);
}

SKCE_DISPATCH void SFX(skce_rmsprop_step)(ptrdiff_t n, const skce_optim_options *o,
                                          REAL *restrict p, const REAL *restrict g,
                                          REAL *restrict sq, REAL *restrict buf,
                                          REAL *restrict ga)
{
    SFX(optimizer_loop)(SKCE_RMSPROP, n, o, p, g, sq, buf, ga);
}

SKCE_DISPATCH void SFX(skce_adagrad_step)(ptrdiff_t n, const skce_optim_options *o,
                                          REAL *restrict p, const REAL *restrict g,
                                          REAL *restrict sum)
{
    SFX(optimizer_loop)(SKCE_ADAGRAD, n, o, p, g, sum, NULL, NULL);
}

SKCE_DISPATCH void SFX(skce_running_mean)(ptrdiff_t n, int64_t count, REAL *restrict mean,
                                          const REAL *restrict p)
{
    SFX(running_mean_loop)(n, count, mean, p);
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
    case SKCE_RMSPROP:
        SFX(skce_rmsprop_step)(n, o, p, g, state1, state2, state3);
        break;
    case SKCE_ADAGRAD:
        SFX(skce_adagrad_step)(n, o, p, g, state1);
        break;
    default:   /* SKCE_SGD */
        SFX(skce_sgd_step)(n, o, p, g, state1);
        break;
    }
}
