/* Optimizer steps, instantiated by optim.c for REAL = double and float:
 * the loops of optim_loops.h (torch.optim's semantics, see there), compiled
 * for the dispatched instruction sets. */

SKCE_DISPATCH void SFX(skce_optimizer_step)(int optimizer, ptrdiff_t n,
                                            const skce_optim_options *o, REAL *p, const REAL *g,
                                            REAL *state1, REAL *state2, REAL *state3)
{
    SFX(optimizer_loop)(optimizer, n, o, p, g, state1, state2, state3);
}

SKCE_DISPATCH void SFX(skce_running_mean)(ptrdiff_t n, int64_t count, REAL *restrict mean,
                                          const REAL *restrict p)
{
    SFX(running_mean_loop)(n, count, mean, p);
}
