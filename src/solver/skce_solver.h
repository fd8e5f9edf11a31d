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

/* Optimizers and learning-rate schedules (the codes of OptimizerSpec's
 * solver and learning_rate; "adaptive" runs as SKCE_LR_CONSTANT, its rate
 * lowered between epochs). */
typedef enum { SKCE_SGD = 0, SKCE_ADAM = 1, SKCE_RMSPROP = 2, SKCE_ADAGRAD = 3 } skce_optimizer;
typedef enum { SKCE_LR_CONSTANT = 0, SKCE_LR_INVSCALING = 1, SKCE_LR_COSINE = 2 } skce_lr_schedule;

/* The learning rate of step `step` (1 on the first): eta; eta / step^power_t;
 * or cosine annealing from eta to 0 over total_steps steps (0 beyond, eta
 * when total_steps <= 0). */
double skce_learning_rate(int schedule, double eta, double power_t, double total_steps,
                          int64_t step);

/* skce_optimizer_step: the one dispatch from an skce_optimizer code to its
 * step (state1..3: SGD's momentum buffer; Adam's m, v and max v). */
#define SKCE_DECLARE_OPTIM(REAL, SFX)                                                         \
    void skce_optimizer_step##SFX(int optimizer, ptrdiff_t n, const skce_optim_options *o,     \
        REAL *p, const REAL *g, REAL *state1, REAL *state2, REAL *state3);                    \
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

/* ---- Batch numerics of the training epoch (batch.c) ----
 *
 * Rows k < n of a minibatch are rows order[k] of X; CSR X is (data,
 * indices, indptr) with 32- or 64-bit indices (suffix _i32 / _i64).
 * skce_csr_logits: Z[k, :] = b + X[order[k]] W (W d x K, Z n x K, row-major).
 * skce_csr_weight_grad: D (d x K) = sum_k X[order[k]]^T G[k, :] (G n x K),
 * D zeroed first, rows scattered in batch order.
 * skce_column_sums: out[c] = sum_k G[k, c] (G n x K, row stride ldg), added
 * in row order in double.
 * skce_sum_partials: out[q] = sum_b partial[b * stride + q] for p0 <= q < p1,
 * added in the order b = 0 .. n_parts - 1.
 * Each result is a sum in a fixed order: any split of the rows into calls
 * (resp. of the parameters) gives the same bits. */
#define SKCE_DECLARE_CSR(REAL, SFX, INDEX, ISFX)                                              \
    void skce_csr_logits##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data,      \
        const INDEX *indices, const INDEX *indptr, ptrdiff_t K, const REAL *W, const REAL *b, \
        REAL *Z);                                                                             \
    void skce_csr_weight_grad##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data, \
        const INDEX *indices, const INDEX *indptr, ptrdiff_t d, ptrdiff_t K, const REAL *G,   \
        REAL *D);
#define SKCE_DECLARE_BATCH(REAL, SFX)                                                         \
    SKCE_DECLARE_CSR(REAL, SFX, int32_t, _i32)                                                \
    SKCE_DECLARE_CSR(REAL, SFX, int64_t, _i64)                                                \
    void skce_column_sums##SFX(ptrdiff_t n, ptrdiff_t K, const REAL *G, ptrdiff_t ldg,        \
        REAL *out);                                                                           \
    void skce_sum_partials##SFX(ptrdiff_t n_parts, ptrdiff_t stride, ptrdiff_t p0,            \
        ptrdiff_t p1, const REAL *partial, REAL *out);

SKCE_DECLARE_BATCH(double, _f64)
SKCE_DECLARE_BATCH(float, _f32)
#undef SKCE_DECLARE_BATCH
#undef SKCE_DECLARE_CSR

#endif /* SKCE_SOLVER_H */
