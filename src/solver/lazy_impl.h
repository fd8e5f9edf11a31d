/* Lazy updates of the weight rows of a CSR minibatch step, instantiated by
 * lazy.c for REAL = double and float (see skce_solver.h).  The row steps
 * inline the optimizer loops (optim_loops.h) rather than call a dispatched
 * step per row of K weights: the call and its loop set-up cost more than
 * the row's arithmetic (SGD: 18 % of a lazy epoch). */

/* The touched rows are scattered over W: without prefetching each one costs
 * a cache miss in turn (memory latency, not bandwidth, bounds these loops). */
SKCE_INLINE void SFX(lazy_prefetch)(const REAL *p, ptrdiff_t K)
{
    if (p == NULL)
        return;
    for (ptrdiff_t o = 0; o < K * (ptrdiff_t)sizeof(REAL); o += SKCE_LAZY_LINE)
        __builtin_prefetch((const char *)p + o, 1, 3);
    __builtin_prefetch((const char *)(p + K) - 1, 1, 3);
}

/* Row j's value w after the penalty maps of steps t0+1 .. t (none of them
 * touched it), and (*sum) the sum of its values after each of those steps.
 * |w_s| = S_s max(0, v - U_s) with v = |w| / S_t0 + U_t0, the sign kept:
 * the composition of s steps w -> soft(a w, c) (skce_lazy_history). */
SKCE_INLINE double SFX(lazy_value)(double w, const skce_lazy_history *h, int64_t t0, int64_t t,
                                    double *sum)
{
    if (w == 0.0 || w != w) {   /* a zero stays zero; NaN passes through to be reported */
        *sum = w * (double)(t - t0);
        return w;
    }
    const double x = w > 0 ? w : -w, sg = w > 0 ? 1.0 : -1.0;
    const double v = x / h->S[t0] + h->U[t0];
    int64_t s = t;
    if (!(h->U[t] < v)) {
        /* thresholded to zero on the way: s = the last step with U_s < v
         * (U is non-decreasing; U_t0 < v since x > 0) */
        int64_t lo = t0, hi = t;
        while (hi - lo > 1) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (h->U[mid] < v)
                lo = mid;
            else
                hi = mid;
        }
        s = lo;
    }
    *sum = sg * (v * (h->QS[s] - h->QS[t0]) - (h->QSU[s] - h->QSU[t0]));
    return s == t ? sg * h->S[t] * (v - h->U[t]) : 0.0;
}

SKCE_DISPATCH void SFX(skce_lazy_catch_up)(ptrdiff_t n_rows, const int64_t *rows,
                                           ptrdiff_t K, const skce_lazy_history *h, int64_t t,
                                           int64_t *restrict last, REAL *restrict W,
                                           REAL *restrict avg)
{
    for (ptrdiff_t r = 0; r < n_rows; r++) {
        const int64_t j = rows != NULL ? rows[r] : (int64_t)r;
        if (rows != NULL && r + SKCE_LAZY_AHEAD < n_rows) {
            const int64_t jn = rows[r + SKCE_LAZY_AHEAD];
            SFX(lazy_prefetch)(W + jn * K, K);
            SFX(lazy_prefetch)(avg != NULL ? avg + jn * K : NULL, K);
        }
        const int64_t t0 = last[j];
        if (t0 >= t)
            continue;
        REAL *restrict w = W + j * K;
        REAL *restrict a = avg != NULL ? avg + j * K : NULL;
        /* the running mean of the steps so far: t0 earlier ones, then these */
        const double keep = (double)t0 / (double)t, add = 1.0 / (double)t;
        if (h->U[t] == h->U[t0]) {
            /* no L1 step in between: w_s = w S_s / S_t0, linear */
            const double inv = 1.0 / h->S[t0];
            const double f = h->S[t] * inv, g = (h->QS[t] - h->QS[t0]) * inv;
            for (ptrdiff_t c = 0; c < K; c++) {
                const double x = (double)w[c];
                w[c] = (REAL)(x * f);
                if (a != NULL)
                    a[c] = (REAL)(keep * (double)a[c] + add * (x * g));
            }
        } else {
            for (ptrdiff_t c = 0; c < K; c++) {
                double sum;
                w[c] = (REAL)SFX(lazy_value)((double)w[c], h, t0, t, &sum);
                if (a != NULL)
                    a[c] = (REAL)(keep * (double)a[c] + add * sum);
            }
        }
        last[j] = t;
    }
}

/* A constant amsgrad and L1 in each inlined loop (see optim_loops.h). */
SKCE_INLINE void SFX(sparse_adam_row)(ptrdiff_t K, const skce_optim_options *o, REAL *p,
                                      const REAL *g, REAL *m, REAL *v, REAL *vmax)
{
    const int l1 = o->l1 != 0.0;
    if (o->amsgrad)
        l1 ? SFX(sparse_adam_loop)(1, 1, K, o, p, g, m, v, vmax)
           : SFX(sparse_adam_loop)(1, 0, K, o, p, g, m, v, vmax);
    else
        l1 ? SFX(sparse_adam_loop)(0, 1, K, o, p, g, m, v, NULL)
           : SFX(sparse_adam_loop)(0, 0, K, o, p, g, m, v, NULL);
}

SKCE_DISPATCH void SFX(skce_lazy_step)(int optimizer, ptrdiff_t n_rows, const int64_t *rows,
                                       ptrdiff_t K, const skce_optim_options *o,
                                       int64_t *restrict pending, int64_t t,
                                       int64_t *restrict last, REAL *theta, REAL *D,
                                       REAL *st1, REAL *st2, REAL *st3, REAL *avg,
                                       double avg_qs)
{
    skce_optim_options ok = *o;
    for (ptrdiff_t r = 0; r < n_rows; r++) {
        const int64_t j = rows[r];
        if (r + SKCE_LAZY_AHEAD < n_rows) {
            const ptrdiff_t pn = rows[r + SKCE_LAZY_AHEAD] * K;
            SFX(lazy_prefetch)(theta + pn, K);
            SFX(lazy_prefetch)(avg != NULL ? avg + pn : NULL, K);
            if (optimizer != SKCE_SGD || o->momentum != 0.0)
                SFX(lazy_prefetch)(st1 + pn, K);
            if (optimizer == SKCE_ADAM || optimizer == SKCE_RMSPROP)
                SFX(lazy_prefetch)(st2 + pn, K);
            if (pending != NULL)
                __builtin_prefetch(pending + rows[r + SKCE_LAZY_AHEAD], 1, 3);
        }
        if (pending != NULL) {
            /* the penalty of the steps since row j's last update (its weights
             * unchanged since), in this step */
            const double k = (double)(o->step - pending[j]);
            ok.l1 = k * o->l1;
            if (o->decoupled && o->lr > 0)   /* AdamW: decay (1 - lr wd)^k */
                ok.weight_decay = (1.0 - pow(1.0 - o->lr * o->weight_decay, k)) / o->lr;
            else
                ok.weight_decay = k * o->weight_decay;
            pending[j] = o->step;
        }
        const ptrdiff_t p = j * K;
        if (avg != NULL && avg_qs >= 0)   /* A -= QS (new - old): the old part */
            for (ptrdiff_t c = 0; c < K; c++)
                avg[p + c] += (REAL)(avg_qs * (double)theta[p + c]);
        if (optimizer == SKCE_ADAM)   /* SparseAdam's formula */
            SFX(sparse_adam_row)(K, &ok, theta + p, D + r * K, st1 + p, st2 + p, st3 + p);
        else
            SFX(optimizer_loop)(optimizer, K, &ok, theta + p, D + r * K, st1 + p, st2 + p,
                                st3 + p);
        for (ptrdiff_t c = 0; c < K; c++)   /* zero for the next batch's gradient */
            D[r * K + c] = 0;
        if (avg != NULL && avg_qs >= 0)
            for (ptrdiff_t c = 0; c < K; c++)
                avg[p + c] -= (REAL)(avg_qs * (double)theta[p + c]);
        else if (avg != NULL)
            SFX(running_mean_loop)(K, t, avg + p, theta + p);
        if (last != NULL)
            last[j] = t;
    }
}

SKCE_DISPATCH void SFX(skce_lazy_unscale)(ptrdiff_t n, double S, double QS, double inv_t,
                                          REAL *restrict V, REAL *restrict A)
{
    if (A == NULL) {
        for (ptrdiff_t i = 0; i < n; i++)
            V[i] = (REAL)(S * (double)V[i]);
        return;
    }
    for (ptrdiff_t i = 0; i < n; i++) {
        const double v = (double)V[i];
        V[i] = (REAL)(S * v);
        A[i] = (REAL)(((double)A[i] + QS * v) * inv_t);
    }
}
