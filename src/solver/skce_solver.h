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
    double beta1_pow, beta2_pow;   /* Adam: beta1^step, beta2^step (skce_optim_at_step) */
    int nesterov, amsgrad, decoupled;
    int centered;                  /* RMSprop */
} skce_optim_options;

/* Optimizers and learning-rate schedules (the codes of OptimizerSpec's
 * solver and learning_rate; "adaptive" runs as SKCE_LR_CONSTANT, its rate
 * lowered between epochs). */
typedef enum { SKCE_SGD = 0, SKCE_ADAM = 1, SKCE_RMSPROP = 2, SKCE_ADAGRAD = 3 } skce_optimizer;
typedef enum { SKCE_LR_CONSTANT = 0, SKCE_LR_INVSCALING = 1, SKCE_LR_COSINE = 2 } skce_lr_schedule;

/* Sets o's step, learning rate and what derives from the step (Adam's
 * bias corrections), once per step rather than in every call. */
void skce_optim_at_step(skce_optim_options *o, int64_t step, double lr);

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
 * skce_small_k_logits: Z[r, :] = A[r, :] W + bias for r < n (A row-major,
 * leading dimension lda, d columns; W d x Kp, bias Kp and Z n x Kp
 * row-major, Kp = SKCE_PADDED_K(K, 32 / sizeof(REAL)); the padding columns
 * of W and bias zero, so are Z's).
 * skce_small_k_weight_grad: D[j, :K] = sum_{r < n} A[r, j] G[r, :K] for
 * j0 <= j < j1 (G n x Kp, D d x K).  skce_pad_columns: dst (rows x Kp) =
 * src (rows x K), zero padding.  skce_small_k_column_sums: out[c] =
 * sum_{r < n} G[r, c] in double for c < K (G n x Kp).  skce_column_moments:
 * sums[j] += sum_r s_r A[r, j], squares[j] += sum_r s_r A[r, j]^2 (s NULL:
 * 1), in double.  Each result is a sum in a fixed order. */
#define SKCE_PADDED_K(K, VL) (((K) + (VL) - 1) / (VL) * (VL))
#define SKCE_DECLARE_DENSE(REAL, SFX)                                                         \
    void skce_small_k_logits##SFX(ptrdiff_t n, ptrdiff_t d, ptrdiff_t K, const REAL *A,        \
        ptrdiff_t lda, const REAL *W, const REAL *bias, REAL *Z);                             \
    void skce_small_k_weight_grad##SFX(ptrdiff_t n, ptrdiff_t j0, ptrdiff_t j1, ptrdiff_t K,   \
        const REAL *A, ptrdiff_t lda, const REAL *G, REAL *D);                                \
    void skce_pad_columns##SFX(ptrdiff_t rows, ptrdiff_t K, const REAL *src, REAL *dst);     \
    void skce_small_k_column_sums##SFX(ptrdiff_t n, ptrdiff_t K, const REAL *G, double *out); \
    void skce_column_moments##SFX(ptrdiff_t n, ptrdiff_t d, const REAL *A, ptrdiff_t lda,      \
        const double *s, double *sums, double *squares);

SKCE_DECLARE_DENSE(double, _f64)
SKCE_DECLARE_DENSE(float, _f32)
#undef SKCE_DECLARE_DENSE

/* ---- CSR X ----
 *
 * The CSR kernels below come in two index widths (suffix _i32 / _i64: data,
 * indices, indptr).  The Cython layer calls the entry points without that
 * suffix: they take skce_csr, whose indices and indptr are both int32_t or
 * both int64_t (index64), and run the kernel of that width. */
typedef struct {
    const void *data;       /* REAL */
    const void *indices;
    const void *indptr;
    int index64;
} skce_csr;

/* For the entry points' definitions: KERNEL##_i64 or KERNEL##_i32 called with
 * the arguments, in which X->data, X->indices, X->indptr (void pointers)
 * convert to the kernel's types. */
#define SKCE_CSR_CALL(X, KERNEL, ...)                                                         \
    ((X)->index64 ? KERNEL##_i64(__VA_ARGS__) : KERNEL##_i32(__VA_ARGS__))

/* ---- Batch numerics of the training epoch (batch.c) ----
 *
 * Rows k < n of a minibatch are rows order[k] of X.
 * skce_csr_logits: Z[k, :] = b + X[order[k]] W (W d x K, Z n x K, row-major).
 * skce_csr_weight_grad: D (d x K) = sum_k X[order[k]]^T G[k, :] (G n x K),
 * D zeroed first, rows scattered in batch order.
 * skce_column_sums: out[c] = sum_k G[k, c] (G n x K, row stride ldg), added
 * in row order in double.
 * skce_sum_partials: out[q] = sum_b partial[b * stride + q] for p0 <= q < p1,
 * added in the order b = 0 .. n_parts - 1.
 * skce_csr_weight_grad_compact: as skce_csr_weight_grad, into the rows of D
 * of the features the batch touches (m x K), feature j in row pos[j]; D's
 * rows must be zero on entry (skce_lazy_step zeroes them as it reads them:
 * a memset of D per batch was 8 % of a lazy Adam epoch).
 * skce_csr_scaled_logits: Z[k, :] = b + scale (X[order[k]] V), the product
 * summed first (W = scale V: the scaled steps below).
 * skce_csr_scaled_step: V[j, :] += cv x_kj G[k, :] and, when A is not NULL,
 * A[j, :] += ca x_kj G[k, :], for the non-zeros x_kj of rows order[:n],
 * scattered in batch order: the step of plain SGD without L1 on W = S V
 * (lazy updates, "Lazy updates" below).
 * skce_csr_touched: the features present in rows order[:n], each once in
 * increasing order, into touched[0 .. m) (m returned), with pos[j] set to
 * j's position (pos of other features is not touched); bits: a zeroed bitmap
 * of the features (d / 64 + 1 words), zeroed again on return.
 * Each result is a sum in a fixed order: any split of the rows into calls
 * (resp. of the parameters) gives the same bits. */
#define SKCE_DECLARE_CSR(REAL, SFX, INDEX, ISFX)                                              \
    void skce_csr_logits##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data,      \
        const INDEX *indices, const INDEX *indptr, ptrdiff_t K, const REAL *W, const REAL *b, \
        REAL *Z);                                                                             \
    void skce_csr_weight_grad##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data, \
        const INDEX *indices, const INDEX *indptr, ptrdiff_t d, ptrdiff_t K, const REAL *G,   \
        REAL *D);                                                                             \
    void skce_csr_weight_grad_compact##SFX##ISFX(ptrdiff_t n, const int64_t *order,           \
        const REAL *data, const INDEX *indices, const INDEX *indptr, ptrdiff_t K,             \
        const REAL *G, const int64_t *pos, REAL *D);                                          \
    void skce_csr_scaled_logits##SFX##ISFX(ptrdiff_t n, const int64_t *order,                 \
        const REAL *data, const INDEX *indices, const INDEX *indptr, ptrdiff_t K,             \
        const REAL *V, REAL scale, const REAL *b, REAL *Z);                                   \
    void skce_csr_scaled_step##SFX##ISFX(ptrdiff_t n, const int64_t *order, const REAL *data, \
        const INDEX *indices, const INDEX *indptr, ptrdiff_t K, const REAL *G, double cv,     \
        double ca, REAL *V, REAL *A);
#define SKCE_DECLARE_BATCH(REAL, SFX)                                                         \
    SKCE_DECLARE_CSR(REAL, SFX, int32_t, _i32)                                                \
    SKCE_DECLARE_CSR(REAL, SFX, int64_t, _i64)                                                \
    void skce_csr_logits##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,           \
        ptrdiff_t K, const REAL *W, const REAL *b, REAL *Z);                                  \
    void skce_csr_weight_grad##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,      \
        ptrdiff_t d, ptrdiff_t K, const REAL *G, REAL *D);                                    \
    void skce_csr_weight_grad_compact##SFX(const skce_csr *X, ptrdiff_t n,                    \
        const int64_t *order, ptrdiff_t K, const REAL *G, const int64_t *pos, REAL *D);      \
    void skce_csr_scaled_logits##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,    \
        ptrdiff_t K, const REAL *V, REAL scale, const REAL *b, REAL *Z);                      \
    void skce_csr_scaled_step##SFX(const skce_csr *X, ptrdiff_t n, const int64_t *order,      \
        ptrdiff_t K, const REAL *G, double cv, double ca, REAL *V, REAL *A);                  \
    void skce_column_sums##SFX(ptrdiff_t n, ptrdiff_t K, const REAL *G, ptrdiff_t ldg,        \
        REAL *out);                                                                           \
    void skce_sum_partials##SFX(ptrdiff_t n_parts, ptrdiff_t stride, ptrdiff_t p0,            \
        ptrdiff_t p1, const REAL *partial, REAL *out);

SKCE_DECLARE_BATCH(double, _f64)
SKCE_DECLARE_BATCH(float, _f32)
#undef SKCE_DECLARE_BATCH
#undef SKCE_DECLARE_CSR
ptrdiff_t skce_csr_touched_i32(ptrdiff_t n, const int64_t *order, const int32_t *indices,
    const int32_t *indptr, uint64_t *bits, int64_t *pos, int64_t *touched);
ptrdiff_t skce_csr_touched_i64(ptrdiff_t n, const int64_t *order, const int64_t *indices,
    const int64_t *indptr, uint64_t *bits, int64_t *pos, int64_t *touched);
ptrdiff_t skce_csr_touched(const skce_csr *X, ptrdiff_t n, const int64_t *order,
    uint64_t *bits, int64_t *pos, int64_t *touched);
/* The number of non-zeros in rows order[:n] (a batch's work, for its threads). */
ptrdiff_t skce_csr_batch_nnz(const skce_csr *X, ptrdiff_t n, const int64_t *order);

/* ---- CSR products of the full-batch objective's pass (sparse.c) ----
 *
 * Rows r0 <= r < r1 of CSR X, outputs padded to Kp = SKCE_PADDED_K(K,
 * 32 / sizeof(REAL)) (W, D: d x Kp; Z, G: (r1 - r0) x Kp; W's and b's
 * padding zero):
 * skce_csr_rows_logits: Z[r - r0, :] = b + X[r] W.
 * skce_csr_rows_weight_grad_add: D += X[r0:r1]ᵀ G, scattered in row order.
 * Each result is a sum in a fixed order. */
#define SKCE_DECLARE_CSR_ROWS(REAL, SFX, INDEX, ISFX)                                         \
    void skce_csr_rows_logits##SFX##ISFX(ptrdiff_t r0, ptrdiff_t r1, const REAL *data,        \
        const INDEX *indices, const INDEX *indptr, ptrdiff_t Kp, const REAL *W,               \
        const REAL *b, REAL *Z);                                                              \
    void skce_csr_rows_weight_grad_add##SFX##ISFX(ptrdiff_t r0, ptrdiff_t r1,                 \
        const REAL *data, const INDEX *indices, const INDEX *indptr, ptrdiff_t Kp,            \
        const REAL *G, REAL *D);
SKCE_DECLARE_CSR_ROWS(double, _f64, int32_t, _i32)
SKCE_DECLARE_CSR_ROWS(double, _f64, int64_t, _i64)
SKCE_DECLARE_CSR_ROWS(float, _f32, int32_t, _i32)
SKCE_DECLARE_CSR_ROWS(float, _f32, int64_t, _i64)
#undef SKCE_DECLARE_CSR_ROWS
#define SKCE_DECLARE_CSR_ROWS_ENTRY(REAL, SFX)                                                \
    void skce_csr_rows_logits##SFX(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1,             \
        ptrdiff_t Kp, const REAL *W, const REAL *b, REAL *Z);                                 \
    void skce_csr_rows_weight_grad_add##SFX(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1,    \
        ptrdiff_t Kp, const REAL *G, REAL *D);
SKCE_DECLARE_CSR_ROWS_ENTRY(double, _f64)
SKCE_DECLARE_CSR_ROWS_ENTRY(float, _f32)
#undef SKCE_DECLARE_CSR_ROWS_ENTRY

/* ---- Lazy updates of a sparse minibatch step (lazy.c) ----
 *
 * With CSR X a minibatch step updates only the weight rows (features) the
 * batch touches.  The other rows' updates are deferred:
 *
 * - exact (plain SGD): an untouched row's step is w -> soft(a_s w, c_s) with
 *   a_s = 1 - lr_s weight_decay, c_s = lr_s l1 (the dense step with a zero
 *   data gradient).  skce_lazy_history holds, for the steps s = 0 .. t of an
 *   epoch, S_s = prod a, U_s = sum c / S, and the prefix sums QS_s = sum S,
 *   QSU_s = sum S U, from which skce_lazy_catch_up applies any run of such
 *   steps, and adds them to the running mean, in O(1) (O(log t) when the L1
 *   step zeroes the weight on the way).  append fills step t from t - 1;
 *   reset restarts at step t (S = 1), once every row is caught up to t.
 * - lazy (momentum SGD, Adam, RMSprop, Adagrad; a = 1, c = 0: an untouched
 *   row and its optimizer state do not change, as torch.optim.SparseAdam's):
 *   skce_lazy_step, given pending (each row's last updated step), applies
 *   the weight decay and L1 of the k = step - pending[j] steps since in the
 *   row's next step (k times, the row being unchanged since; AdamW's decay
 *   (1 - lr wd)^k), so that the fixed point keeps the full penalty.  Adam's
 *   row step is SparseAdam's own (epsilon added to sqrt(v), the step scaled
 *   by sqrt(1 - beta2^t): optim_loops.h's sparse_adam_loop).
 *
 * skce_lazy_catch_up: rows rows[0 .. n_rows) (rows NULL: 0 .. n_rows - 1) of
 * W (K columns), each at step last[j], brought to step t (last[j] = t);
 * avg (or NULL) the running mean of each row over the epoch's steps.
 * skce_lazy_step: the optimizer step o (o->step the global step, t the
 * epoch's) on the touched rows, D holding their gradient (row r for row
 * rows[r]; each row zeroed once read, as skce_csr_weight_grad_compact
 * wants it for the next batch); pending NULL for the exact case; then the
 * running mean (avg) and last[j] = t (last NULL for the variant, which
 * never catches up: one cache line less a row).  avg_qs >= 0 (the lazy variant): avg holds A with
 * sum_{s <= t} W_s = A + QS_t W instead, QS_t = t (an untouched row is
 * constant), and a step's change delta of a row adds -avg_qs delta to it,
 * avg_qs = QS_{t-1}: no catch-up of the running mean (skce_lazy_unscale
 * with S = 1 gives the mean at the end). */
typedef struct {
    double *S, *U, *QS, *QSU;
} skce_lazy_history;

void skce_lazy_history_reset(skce_lazy_history *h, int64_t t);
void skce_lazy_history_append(skce_lazy_history *h, int64_t t, double a, double c);

/* Plain SGD without L1 (lazy_exact, l1 = 0: every deferred step a mere
 * scaling w -> a_s w) skips the catch-up altogether, as scikit-learn's
 * WeightVector does: during an epoch theta's W holds V with W = S_t V
 * (S_t of the history above), and with averaging avg's W part holds A with
 * sum_{s <= t} W_s = A + QS_t V.  A step moves only the touched rows:
 * V += delta = -(lr / S_t) dW and A -= QS_{t-1} delta (skce_csr_scaled_step,
 * straight from the batch's non-zeros, no compact gradient).
 * skce_lazy_unscale brings n values back: V <- S V, A <- (A + QS V) inv_t
 * (inv_t = 1 / t at the end of the epoch: the mean; 1 when the history
 * restarts at S = 1, QS = 0). */
#define SKCE_DECLARE_LAZY(REAL, SFX)                                                          \
    void skce_lazy_unscale##SFX(ptrdiff_t n, double S, double QS, double inv_t, REAL *V,     \
        REAL *A);                                                                             \
    void skce_lazy_catch_up##SFX(ptrdiff_t n_rows, const int64_t *rows, ptrdiff_t K,          \
        const skce_lazy_history *h, int64_t t, int64_t *last, REAL *W, REAL *avg);            \
    void skce_lazy_step##SFX(int optimizer, ptrdiff_t n_rows, const int64_t *rows,            \
        ptrdiff_t K, const skce_optim_options *o, int64_t *pending, int64_t t, int64_t *last,  \
        REAL *theta, REAL *D, REAL *st1, REAL *st2, REAL *st3, REAL *avg, double avg_qs);

SKCE_DECLARE_LAZY(double, _f64)
SKCE_DECLARE_LAZY(float, _f32)
#undef SKCE_DECLARE_LAZY

/* ---- The Hessian of Newton's method for CSR rows (gram.c) ----
 *
 * skce_csr_weighted_gram: H (d x d, row-major) += sum_i c[i - r0] x_i x_iᵀ
 * and xc (d) += sum_i c[i - r0] x_i for the CSR rows r0 <= i < r1, in
 * float64 (duplicate indices in a row add up, as the matrix's values do). */
#define SKCE_DECLARE_GRAM(REAL, SFX, INDEX, ISFX)                                             \
    void skce_csr_weighted_gram##SFX##ISFX(ptrdiff_t r0, ptrdiff_t r1, const REAL *data,      \
        const INDEX *indices, const INDEX *indptr, const double *c, ptrdiff_t d, double *H,   \
        double *xc);
SKCE_DECLARE_GRAM(double, _f64, int32_t, _i32)
SKCE_DECLARE_GRAM(double, _f64, int64_t, _i64)
SKCE_DECLARE_GRAM(float, _f32, int32_t, _i32)
SKCE_DECLARE_GRAM(float, _f32, int64_t, _i64)
#undef SKCE_DECLARE_GRAM
void skce_csr_weighted_gram_f64(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1, const double *c,
    ptrdiff_t d, double *H, double *xc);
void skce_csr_weighted_gram_f32(const skce_csr *X, ptrdiff_t r0, ptrdiff_t r1, const double *c,
    ptrdiff_t d, double *H, double *xc);

#endif /* SKCE_SOLVER_H */
