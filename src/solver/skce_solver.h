/* skce solver numerics (src/solver/): optimizer steps, minibatch rows and
 * products.  Plain C, no Python; the compiled epoch (skce/_solver/_epoch.pyx)
 * drives them. */
#ifndef SKCE_SOLVER_H
#define SKCE_SOLVER_H

#include <stddef.h>
#include <stdint.h>

/* ---- Optimizer steps (optim.c): torch.optim.SGD / Adam / AdamW / RMSprop / Adagrad ----
 *
 * One step on the flat parameter range [0, n): p (params), g (gradient)
 * and the optimizer state, all of one dtype.  weight_decay is added to the
 * gradient (torch's weight_decay, i.e. L2), or, for Adam with decoupled set,
 * shrinks the parameters first (AdamW).  l1 > 0 soft-thresholds each
 * parameter after the update by l1 times its step length (proximal L1). */
typedef struct {
    double lr, weight_decay, l1;
    double momentum, dampening;    /* SGD */
    double beta1, beta2, eps;      /* Adam; eps also RMSprop, Adagrad */
    double rho;                    /* RMSprop (torch's alpha); momentum as SGD's */
    double lr_decay, initial_accumulator_value;   /* Adagrad */
    int64_t step;                  /* 1 on the first step */
    int nesterov, amsgrad, decoupled;
    int centered;                  /* RMSprop */
} skce_optim_options;

#define SKCE_DECLARE_OPTIM(REAL, SFX)                                                         \
    void skce_sgd_step##SFX(ptrdiff_t n, const skce_optim_options *o, REAL *p, const REAL *g, \
        REAL *buf);                                                                           \
    void skce_adam_step##SFX(ptrdiff_t n, const skce_optim_options *o, REAL *p,               \
        const REAL *g, REAL *m, REAL *v, REAL *vmax);                                         \
    void skce_rmsprop_step##SFX(ptrdiff_t n, const skce_optim_options *o, REAL *p,            \
        const REAL *g, REAL *sq, REAL *buf, REAL *ga);                                        \
    void skce_adagrad_step##SFX(ptrdiff_t n, const skce_optim_options *o, REAL *p,            \
        const REAL *g, REAL *sum);                                                            \
    void skce_running_mean##SFX(ptrdiff_t n, int64_t count, REAL *mean, const REAL *p);

/* skce_running_mean: folds p into mean, the mean of count - 1 earlier
 * parameter vectors (count = 1: mean = p exactly). */
SKCE_DECLARE_OPTIM(double, _f64)
SKCE_DECLARE_OPTIM(float, _f32)
#undef SKCE_DECLARE_OPTIM

/* ---- Minibatch rows (rows.c) ----
 *
 * out[k, :] = x[order[k], :] for k < n (x with element strides rs, cs; out
 * packed, d columns).  order holds n_ahead >= n valid entries: rows past n
 * are prefetched for the next call. */
#define SKCE_DECLARE_ROWS(REAL, SFX)                                                          \
    void skce_gather_rows##SFX(ptrdiff_t n, ptrdiff_t n_ahead, const int64_t *order,         \
        const REAL *x, ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t d, REAL *out);

SKCE_DECLARE_ROWS(double, _f64)
SKCE_DECLARE_ROWS(float, _f32)
#undef SKCE_DECLARE_ROWS

/* ---- Minibatch products with few outputs (dense.c) ----
 *
 * skce_small_k_logits: Z[r, :K] += A[r, :] W for r < n (A row-major, leading
 * dimension lda, d columns; W d x Kp and Z n x Kp row-major, Kp =
 * SKCE_PADDED_K(K, 32 / sizeof(REAL)); W's padding columns zero).
 * skce_small_k_weight_grad: D[j, :K] = sum_{r < n} A[r, j] G[r, :K] for
 * j0 <= j < j1 (G n x Kp, D d x K).  skce_pad_columns: dst (rows x Kp) =
 * src (rows x K), zero padding.  Each result is a sum in a fixed order. */
#define SKCE_PADDED_K(K, VL) (((K) + (VL) - 1) / (VL) * (VL))
#define SKCE_DECLARE_DENSE(REAL, SFX)                                                         \
    void skce_small_k_logits##SFX(ptrdiff_t n, ptrdiff_t d, ptrdiff_t K, const REAL *A,        \
        ptrdiff_t lda, const REAL *W, REAL *Z);                                               \
    void skce_small_k_weight_grad##SFX(ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1, ptrdiff_t K,   \
        const REAL *A, ptrdiff_t lda, const REAL *G, REAL *D);                                \
    void skce_pad_columns##SFX(ptrdiff_t rows, ptrdiff_t K, const REAL *src, REAL *dst);

SKCE_DECLARE_DENSE(double, _f64)
SKCE_DECLARE_DENSE(float, _f32)
#undef SKCE_DECLARE_DENSE

#endif /* SKCE_SOLVER_H */
