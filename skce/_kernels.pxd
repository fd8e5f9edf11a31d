# Declarations of the C kernels in src/skce.h (one header per layer of src/), shared by the Cython modules.
from libc.stdint cimport int32_t, int64_t, uint64_t

cdef extern from "skce.h" nogil:
    # the one numbering of the loss kinds (skce_loss.h)
    ctypedef enum skce_loss_kind:
        SKCE_CE_INDEX
        SKCE_BCE
        SKCE_MSE
        SKCE_HUBER
        SKCE_HINGE
        SKCE_MULTI_MARGIN
        SKCE_CE_PROB
        SKCE_NLL
        SKCE_BCE_PROB
        SKCE_HINGE_EMBEDDING

    ctypedef struct skce_strides3:
        Py_ssize_t sample
        Py_ssize_t cls
        Py_ssize_t pos

    ctypedef struct skce_shape:
        Py_ssize_t n_classes
        Py_ssize_t n_pos
        Py_ssize_t t_sample
        Py_ssize_t t_pos

    ctypedef struct skce_ce_options:
        const double *class_weight
        const double *sample_weight
        int64_t ignore_index
        double label_smoothing
        double grad_scale

    skce_ce_options skce_ce_options_make(const double *class_weight,
        const double *sample_weight, int64_t ignore_index, double label_smoothing,
        double grad_scale)

    double skce_ce_index_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const skce_ce_options *opt, const double *x, skce_strides3 xs, const int64_t *target,
        double *loss_out, double *grad, skce_strides3 gs)
    double skce_ce_index_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const skce_ce_options *opt, const float *x, skce_strides3 xs, const int64_t *target,
        float *loss_out, float *grad, skce_strides3 gs)
    double skce_ce_prob_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const skce_ce_options *opt, const double *x, skce_strides3 xs, const double *y,
        skce_strides3 ys, double *loss_out, double *grad, skce_strides3 gs)
    double skce_ce_prob_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const skce_ce_options *opt, const float *x, skce_strides3 xs, const float *y,
        skce_strides3 ys, float *loss_out, float *grad, skce_strides3 gs)
    double skce_nll_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const skce_ce_options *opt, const double *x, skce_strides3 xs, const int64_t *target,
        double *loss_out, double *grad, skce_strides3 gs)
    double skce_nll_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const skce_ce_options *opt, const float *x, skce_strides3 xs, const int64_t *target,
        float *loss_out, float *grad, skce_strides3 gs)
    void skce_softmax_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        int log_output, const double *x, skce_strides3 xs, double *out, skce_strides3 os)
    void skce_softmax_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        int log_output, const float *x, skce_strides3 xs, float *out, skce_strides3 os)

    double skce_index_target_weight_block(Py_ssize_t r0, Py_ssize_t r1, const skce_shape *shape,
        const int64_t *target, const double *class_weight, const double *sample_weight,
        int64_t ignore_index, Py_ssize_t *bad_row)

    const char *skce_simd_level()

    # ---- CSR structure check (common/csr_check.c) ----
    int SKCE_CSR_OK
    int SKCE_CSR_INDPTR_START
    int SKCE_CSR_INDPTR_DECREASING
    int SKCE_CSR_INDPTR_END
    int SKCE_CSR_INDEX_RANGE
    int skce_csr_check_i32(Py_ssize_t n_rows, Py_ssize_t n_cols, const int32_t *indptr,
        const int32_t *indices, Py_ssize_t n_stored, Py_ssize_t *where)
    int skce_csr_check_i64(Py_ssize_t n_rows, Py_ssize_t n_cols, const int64_t *indptr,
        const int64_t *indices, Py_ssize_t n_stored, Py_ssize_t *where)

    # ---- elementwise losses (elementwise.c) ----
    ctypedef struct skce_strides_nrl:
        Py_ssize_t sample
        Py_ssize_t row
        Py_ssize_t col

    ctypedef struct skce_ew_options:
        Py_ssize_t n_rows
        Py_ssize_t n_cols
        const double *sample_weight
        double grad_scale
        double margin
        double delta
        int squared
        int kind

    skce_ew_options skce_ew_options_make(Py_ssize_t n_rows, Py_ssize_t n_cols,
        const double *sample_weight, double grad_scale, double margin, double delta,
        int squared)

    int SKCE_LABEL_ZERO
    int SKCE_LABEL_MINUS_ONE
    int SKCE_LABEL_INVALID
    int SKCE_PROB_INVALID

    double skce_bce_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const double *x, skce_strides_nrl xs, const double *y, skce_strides_nrl ys,
        const double *w, skce_strides_nrl ws, const double *pos_weight, skce_strides_nrl ps,
        double *loss_out, double *grad, skce_strides_nrl gs)
    double skce_bce_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const float *x, skce_strides_nrl xs, const float *y, skce_strides_nrl ys,
        const float *w, skce_strides_nrl ws, const float *pos_weight, skce_strides_nrl ps,
        float *loss_out, float *grad, skce_strides_nrl gs)
    double skce_mse_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const double *x, skce_strides_nrl xs, const double *y, skce_strides_nrl ys,
        const double *w, skce_strides_nrl ws, double *loss_out, double *grad, skce_strides_nrl gs)
    double skce_mse_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const float *x, skce_strides_nrl xs, const float *y, skce_strides_nrl ys,
        const float *w, skce_strides_nrl ws, float *loss_out, float *grad, skce_strides_nrl gs)
    double skce_huber_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const double *x, skce_strides_nrl xs, const double *y, skce_strides_nrl ys,
        const double *w, skce_strides_nrl ws, double *loss_out, double *grad, skce_strides_nrl gs)
    double skce_huber_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const float *x, skce_strides_nrl xs, const float *y, skce_strides_nrl ys,
        const float *w, skce_strides_nrl ws, float *loss_out, float *grad, skce_strides_nrl gs)
    double skce_hinge_block_f64(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const double *x, skce_strides_nrl xs, const double *y, skce_strides_nrl ys,
        const double *w, skce_strides_nrl ws, double *loss_out, double *grad, skce_strides_nrl gs,
        int *label_flags)
    double skce_hinge_block_f32(Py_ssize_t r0, Py_ssize_t r1, const skce_ew_options *opt,
        const float *x, skce_strides_nrl xs, const float *y, skce_strides_nrl ys,
        const float *w, skce_strides_nrl ws, float *loss_out, float *grad, skce_strides_nrl gs,
        int *label_flags)
    void skce_sigmoid_f64(Py_ssize_t n, const double *x, double *out, int log_output)
    void skce_sigmoid_f32(Py_ssize_t n, const float *x, float *out, int log_output)

    # ---- multi-class margin losses (margin.c) ----
    ctypedef struct skce_strides2:
        Py_ssize_t sample
        Py_ssize_t cls

    ctypedef struct skce_margin_options:
        Py_ssize_t n_classes
        Py_ssize_t t_stride
        const double *class_weight
        const double *sample_weight
        double margin
        double grad_scale
        int p
        int crammer_singer

    skce_margin_options skce_margin_options_make(Py_ssize_t n_classes, Py_ssize_t t_stride,
        const double *class_weight, const double *sample_weight, double margin,
        double grad_scale, int p, int crammer_singer)

    double skce_multi_margin_block_f64(Py_ssize_t r0, Py_ssize_t r1,
        const skce_margin_options *opt, const double *x, skce_strides2 xs,
        const int64_t *target, double *loss_out, double *grad, skce_strides2 gs,
        Py_ssize_t *bad_row)
    double skce_multi_margin_block_f32(Py_ssize_t r0, Py_ssize_t r1,
        const skce_margin_options *opt, const float *x, skce_strides2 xs,
        const int64_t *target, float *loss_out, float *grad, skce_strides2 gs,
        Py_ssize_t *bad_row)

    # ---- loss rows of a training batch (loss_rows.c) ----
    ctypedef struct skce_loss_spec:
        int kind
        Py_ssize_t n_outputs
        double label_smoothing
        double margin
        double delta
        int squared
        int crammer_singer

    double skce_loss_rows_f64(const skce_loss_spec *spec, Py_ssize_t r0, Py_ssize_t r1,
        const double *Z, Py_ssize_t ldz, const int64_t *y, const double *Y,
        const double *sample_weight, double grad_scale, double *G, Py_ssize_t *bad_row)
    double skce_loss_rows_f32(const skce_loss_spec *spec, Py_ssize_t r0, Py_ssize_t r1,
        const float *Z, Py_ssize_t ldz, const int64_t *y, const float *Y,
        const double *sample_weight, double grad_scale, float *G, Py_ssize_t *bad_row)

    # ---- optimizer steps (optim.c) ----
    ctypedef struct skce_optim_options:
        double lr
        double weight_decay
        double l1
        double momentum
        double dampening
        double beta1
        double beta2
        double eps
        double rho
        double lr_decay
        double initial_accumulator_value
        int64_t step
        double beta1_pow
        double beta2_pow
        int nesterov
        int amsgrad
        int decoupled
        int centered

    ctypedef enum skce_optimizer:
        SKCE_SGD
        SKCE_ADAM
        SKCE_RMSPROP
        SKCE_ADAGRAD
    ctypedef enum skce_lr_schedule:
        SKCE_LR_CONSTANT
        SKCE_LR_INVSCALING
        SKCE_LR_COSINE
    void skce_optim_at_step(skce_optim_options *o, int64_t step, double lr)
    double skce_learning_rate(int schedule, double eta, double power_t, double total_steps,
        int64_t step)
    void skce_optimizer_step_f64(int optimizer, Py_ssize_t n, const skce_optim_options *o,
        double *p, const double *g, double *state1, double *state2, double *state3)
    void skce_optimizer_step_f32(int optimizer, Py_ssize_t n, const skce_optim_options *o,
        float *p, const float *g, float *state1, float *state2, float *state3)
    void skce_running_mean_f64(Py_ssize_t n, int64_t count, double *mean, const double *p)
    void skce_running_mean_f32(Py_ssize_t n, int64_t count, float *mean, const float *p)
    # ---- minibatch rows (rows.c) ----
    void skce_gather_rows_f64(Py_ssize_t n, Py_ssize_t n_ahead, const int64_t *order,
        const double *x, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t d, double *out)
    void skce_gather_rows_f32(Py_ssize_t n, Py_ssize_t n_ahead, const int64_t *order,
        const float *x, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t d, float *out)
    # ---- minibatch products with few outputs (dense.c) ----
    void skce_small_k_logits_f64(Py_ssize_t n, Py_ssize_t d, Py_ssize_t K, const double *A,
        Py_ssize_t lda, const double *W, const double *bias, double *Z)
    void skce_small_k_logits_f32(Py_ssize_t n, Py_ssize_t d, Py_ssize_t K, const float *A,
        Py_ssize_t lda, const float *W, const float *bias, float *Z)
    void skce_small_k_weight_grad_f64(Py_ssize_t n, Py_ssize_t j0, Py_ssize_t j1,
        Py_ssize_t K, const double *A, Py_ssize_t lda, const double *G, double *D)
    void skce_small_k_weight_grad_f32(Py_ssize_t n, Py_ssize_t j0, Py_ssize_t j1,
        Py_ssize_t K, const float *A, Py_ssize_t lda, const float *G, float *D)
    void skce_pad_columns_f64(Py_ssize_t rows, Py_ssize_t K, const double *src, double *dst)
    void skce_pad_columns_f32(Py_ssize_t rows, Py_ssize_t K, const float *src, float *dst)
    void skce_small_k_column_sums_f64(Py_ssize_t n, Py_ssize_t K, const double *G, double *out)
    void skce_small_k_column_sums_f32(Py_ssize_t n, Py_ssize_t K, const float *G, double *out)
    void skce_column_moments_f64(Py_ssize_t n, Py_ssize_t d, const double *A, Py_ssize_t lda,
        const double *s, double *sums, double *squares)
    void skce_column_moments_f32(Py_ssize_t n, Py_ssize_t d, const float *A, Py_ssize_t lda,
        const double *s, double *sums, double *squares)
    # ---- CSR X of the entry points below: indices and indptr both int32 or
    # both int64 (skce_solver.h) ----
    ctypedef struct skce_csr:
        const void *data
        const void *indices
        const void *indptr
        int index64
    # ---- the Hessian of Newton's method for CSR rows (gram.c) ----
    void skce_csr_weighted_gram_f64(const skce_csr *X, Py_ssize_t r0, Py_ssize_t r1,
        const double *c, Py_ssize_t d, double *H, double *xc)
    void skce_csr_weighted_gram_f32(const skce_csr *X, Py_ssize_t r0, Py_ssize_t r1,
        const double *c, Py_ssize_t d, double *H, double *xc)
    # ---- CSR products of the full-batch pass (sparse.c) ----
    void skce_csr_rows_logits_f64(const skce_csr *X, Py_ssize_t r0, Py_ssize_t r1,
        Py_ssize_t Kp, const double *W, const double *b, double *Z)
    void skce_csr_rows_logits_f32(const skce_csr *X, Py_ssize_t r0, Py_ssize_t r1,
        Py_ssize_t Kp, const float *W, const float *b, float *Z)
    void skce_csr_rows_weight_grad_add_f64(const skce_csr *X, Py_ssize_t r0, Py_ssize_t r1,
        Py_ssize_t Kp, const double *G, double *D)
    void skce_csr_rows_weight_grad_add_f32(const skce_csr *X, Py_ssize_t r0, Py_ssize_t r1,
        Py_ssize_t Kp, const float *G, float *D)
    # ---- batch numerics of the training epoch (batch.c) ----
    void skce_csr_logits_f64(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const double *W, const double *b, double *Z)
    void skce_csr_logits_f32(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const float *W, const float *b, float *Z)
    void skce_csr_weight_grad_f64(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t d, Py_ssize_t K, const double *G, double *D)
    void skce_csr_weight_grad_f32(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t d, Py_ssize_t K, const float *G, float *D)
    void skce_csr_weight_grad_compact_f64(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const double *G, const int64_t *pos, double *D)
    void skce_csr_weight_grad_compact_f32(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const float *G, const int64_t *pos, float *D)
    void skce_csr_scaled_logits_f64(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const double *V, double scale, const double *b, double *Z)
    void skce_csr_scaled_logits_f32(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const float *V, float scale, const float *b, float *Z)
    void skce_csr_scaled_step_f64(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const double *G, double cv, double ca, double *V, double *A)
    void skce_csr_scaled_step_f32(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        Py_ssize_t K, const float *G, double cv, double ca, float *V, float *A)
    Py_ssize_t skce_csr_batch_nnz(const skce_csr *X, Py_ssize_t n, const int64_t *order)
    Py_ssize_t skce_csr_touched(const skce_csr *X, Py_ssize_t n, const int64_t *order,
        uint64_t *bits, int64_t *pos, int64_t *touched)
    void skce_column_sums_f64(Py_ssize_t n, Py_ssize_t K, const double *G, Py_ssize_t ldg,
        double *out)
    void skce_column_sums_f32(Py_ssize_t n, Py_ssize_t K, const float *G, Py_ssize_t ldg,
        float *out)
    void skce_sum_partials_f64(Py_ssize_t n_parts, Py_ssize_t stride, Py_ssize_t p0,
        Py_ssize_t p1, const double *partial, double *out)
    void skce_sum_partials_f32(Py_ssize_t n_parts, Py_ssize_t stride, Py_ssize_t p0,
        Py_ssize_t p1, const float *partial, float *out)
    # ---- lazy updates of a sparse minibatch step (lazy.c) ----
    ctypedef struct skce_lazy_history:
        double *S
        double *U
        double *QS
        double *QSU
    void skce_lazy_history_reset(skce_lazy_history *h, int64_t t)
    void skce_lazy_history_append(skce_lazy_history *h, int64_t t, double a, double c)
    void skce_lazy_unscale_f64(Py_ssize_t n, double S, double QS, double inv_t, double *V,
        double *A)
    void skce_lazy_unscale_f32(Py_ssize_t n, double S, double QS, double inv_t, float *V,
        float *A)
    void skce_lazy_catch_up_f64(Py_ssize_t n_rows, const int64_t *rows, Py_ssize_t K,
        const skce_lazy_history *h, int64_t t, int64_t *last, double *W, double *avg)
    void skce_lazy_step_f64(int optimizer, Py_ssize_t n_rows, const int64_t *rows,
        Py_ssize_t K, const skce_optim_options *o, int64_t *pending, int64_t t, int64_t *last,
        double *theta, double *D, double *st1, double *st2, double *st3, double *avg,
        double avg_qs)
    void skce_lazy_catch_up_f32(Py_ssize_t n_rows, const int64_t *rows, Py_ssize_t K,
        const skce_lazy_history *h, int64_t t, int64_t *last, float *W, float *avg)
    void skce_lazy_step_f32(int optimizer, Py_ssize_t n_rows, const int64_t *rows,
        Py_ssize_t K, const skce_optim_options *o, int64_t *pending, int64_t t, int64_t *last,
        float *theta, float *D, float *st1, float *st2, float *st3, float *avg,
        double avg_qs)
    # ---- NT-Xent contrastive loss (ntxent.c) ----
    Py_ssize_t SKCE_NTX_TB
    Py_ssize_t SKCE_NTX_KW
    Py_ssize_t SKCE_NTX_KW_F32

    ctypedef struct skce_ntxent_options:
        Py_ssize_t n
        Py_ssize_t dim
        Py_ssize_t dim_pad
        Py_ssize_t rows_pad
        double inv_temperature
        double grad_scale
        int normalize

    size_t skce_ntxent_work_size(const skce_ntxent_options *opt)
    Py_ssize_t skce_ntxent_round_size(Py_ssize_t n_tiles, Py_ssize_t round)

    Py_ssize_t skce_ntxent_pack_block_f64(Py_ssize_t r0, Py_ssize_t r1,
        const skce_ntxent_options *opt, const double *a, skce_strides2 as_, const double *b,
        skce_strides2 bs, double *u, double *up, double *norms)
    Py_ssize_t skce_ntxent_pack_block_f32(Py_ssize_t r0, Py_ssize_t r1,
        const skce_ntxent_options *opt, const float *a, skce_strides2 as_, const float *b,
        skce_strides2 bs, float *u, float *up, double *norms)
    void skce_ntxent_lse_tile_f64(Py_ssize_t round, Py_ssize_t k, const skce_ntxent_options *opt,
        const double *u, const double *up, double *m, double *s, double *spos, double *work)
    void skce_ntxent_lse_tile_f32(Py_ssize_t round, Py_ssize_t k, const skce_ntxent_options *opt,
        const float *u, const float *up, double *m, double *s, double *spos, double *work)
    double skce_ntxent_lse_finish_f64(const skce_ntxent_options *opt, const double *m,
        const double *s, const double *spos, double *lse, double *loss_out)
    double skce_ntxent_lse_finish_f32(const skce_ntxent_options *opt, const double *m,
        const double *s, const double *spos, double *lse, float *loss_out)
    void skce_ntxent_grad_tile_f64(Py_ssize_t round, Py_ssize_t k, const skce_ntxent_options *opt,
        const double *u, const double *up, const double *lse, double *g, double *work)
    void skce_ntxent_grad_tile_f32(Py_ssize_t round, Py_ssize_t k, const skce_ntxent_options *opt,
        const float *u, const float *up, const double *lse, double *g, double *work)
    void skce_ntxent_grad_rows_f64(Py_ssize_t r0, Py_ssize_t r1,
        const skce_ntxent_options *opt, const double *a, skce_strides2 as_, const double *b,
        skce_strides2 bs, const double *norms, const double *g, double *grad_a,
        skce_strides2 gas, double *grad_b, skce_strides2 gbs, double *ub)
    void skce_ntxent_grad_rows_f32(Py_ssize_t r0, Py_ssize_t r1,
        const skce_ntxent_options *opt, const float *a, skce_strides2 as_, const float *b,
        skce_strides2 bs, const double *norms, const double *g, float *grad_a,
        skce_strides2 gas, float *grad_b, skce_strides2 gbs, double *ub)


cdef inline skce_strides2 strides2(Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t itemsize) except *:
    """Byte strides of a 2-D view -> element strides for the C kernels."""
    cdef skce_strides2 s
    if s0 % itemsize or s1 % itemsize:
        raise ValueError("array strides must be a multiple of the item size; "
                         "pass np.ascontiguousarray(a)")
    s.sample = s0 // itemsize
    s.cls = s1 // itemsize
    return s
