"""The compiled training epoch behind every skce estimator.

One epoch runs without the GIL: for each minibatch (rows `order[k:k+B]`),
  1. per fixed block of RB batch rows (OpenMP): gather the rows of X into the
     batch buffer (dense X, unless they are consecutive rows of a C-ordered
     X, read in place; for CSR the logits come from a row loop here);
  2. logits Z = X_b W + b: with few outputs (dense) skce's register-blocked
     product (src/dense.c), in the same block loop; else one BLAS gemm;
  3. per block (OpenMP): the loss kernel from src/ gives the block's weighted
     loss and G = dloss/dZ, and, where cheap enough, the block's share of
     dW = X_bᵀ G (dense with few outputs, or a CSR scatter) while its rows
     are in cache; otherwise dW after the blocks (split by features, or one
     gemm; a serial scatter for CSR); db = column sums of G;
  4. the optimizer step (src/optim.c), with the learning-rate schedule, and
     with averaging the running mean of the iterates.
W is stored (n_features, n_outputs) and, with b, in one flat parameter
vector theta = [W.ravel(), b] so that the optimizer state is flat too.
Blocks and chunks have fixed sizes and partial sums are added in block
order, and BLAS is called once per product with the same shapes whatever
the thread count, so the result is bitwise the same for any number of
threads.  BLAS runs single-threaded (the caller limits it with threadpoolctl):
its own threads would compete with OpenMP's.
"""
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int32_t, int64_t
from libc.math cimport isfinite, cos, pow, M_PI
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from cpython.exc cimport PyErr_CheckSignals
from scipy.linalg.cython_blas cimport dgemm, sgemm

import threading

import numpy as np

from skce._kernels cimport *

ctypedef fused index_t:
    int32_t
    int64_t

# Rows per parallel block of a batch, parameters per chunk of the optimizer
# step: fixed, never derived from n_threads.
cdef Py_ssize_t RB = 64
cdef Py_ssize_t PC = 8192
# Dense batches with at most 3 SIMD vectors of outputs (12 in float64, 24 in
# float32) use skce's products (dense.c): ~1.3x faster than OpenBLAS there,
# slower beyond (measured at 10 and 26 outputs).  small_k_max lowers the limit.
cdef Py_ssize_t small_k_max = 24


def _set_small_k_max(Py_ssize_t k):
    """Set the most outputs for skce's own batch products (0: always BLAS);
    returns the previous value.  For tests and benchmarks."""
    global small_k_max
    previous, small_k_max = small_k_max, k
    return previous
# Most elements of a batch's per-block shares of dW (n_blocks x d K, 32 MB
# in float64); beyond, dW is formed after the blocks.
cdef Py_ssize_t partial_max = 1 << 22


def _set_partial_max(Py_ssize_t n):
    """Set partial_max (0: never per-block shares); returns the previous
    value.  For tests."""
    global partial_max
    previous, partial_max = partial_max, n
    return previous


# Multiply-adds below which a parallel region costs more than it saves
# (thread wake-up is ~10 us, far more on a busy machine): smaller work runs
# on fewer threads.  The partition stays the same, so results do not change.
# Half this value would put a default batch (256 x 100 features x 10
# classes) on 2 threads: 1.29x faster on a quiet machine, but 2.5x slower
# than 1 thread with another process busy on one of the 2 cores.
cdef double MIN_WORK_PER_THREAD = 131072.0


cdef inline int _threads_for(double work, int n_threads) noexcept nogil:
    cdef double t = work / MIN_WORK_PER_THREAD
    if t < 1.0:
        return 1
    return <int>t if t < n_threads else n_threads

# Loss kernels (codes read by the registry, skce._loss.LOSSES).
cdef enum:
    _CROSS_ENTROPY = 0   # softmax CE, class-index targets y
    _BCE = 1             # BCE with logits, targets Y in {0, 1}
    _SQUARED = 2         # squared error, targets Y
    _HUBER = 3           # Huber, targets Y
    _HINGE = 4           # (squared) hinge, targets Y in {-1, 1}
    _MULTI_MARGIN = 5    # multi-class margin (Crammer-Singer / Weston-Watkins), y
CROSS_ENTROPY, BCE, SQUARED, HUBER, HINGE, MULTI_MARGIN = (
    _CROSS_ENTROPY, _BCE, _SQUARED, _HUBER, _HINGE, _MULTI_MARGIN)
INDEX_TARGET_LOSSES = (_CROSS_ENTROPY, _MULTI_MARGIN)

cdef enum:
    _SGD = 0
    _ADAM = 1
SGD, ADAM = _SGD, _ADAM

cdef enum:
    _CONSTANT = 0
    _INVSCALING = 1
    _COSINE = 2
CONSTANT, INVSCALING, COSINE = _CONSTANT, _INVSCALING, _COSINE

# Epoch status codes
cdef enum:
    _OK = 0
    _NONFINITE = 1
    _BAD_TARGET = 2
    _PARTIAL_GRAD = 3   # internal: OK, and the batch's dW is in per-block partials
    _INTERRUPTED = 4    # a signal handler raised (Ctrl-C): info is its exception
OK, NONFINITE, BAD_TARGET, INTERRUPTED = _OK, _NONFINITE, _BAD_TARGET, _INTERRUPTED

# Ctrl-C during an epoch: between batches, at most every SIGNAL_CHECK_S seconds,
# the loop takes the GIL and runs Python's signal handlers (main thread only,
# where they run), so that an interrupt stops the epoch within about that
# time plus one batch, instead of at its end.
cdef double SIGNAL_CHECK_S = 0.05


cdef inline bint _signal_check_due(double *next_check) noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    cdef double now = ts.tv_sec + 1e-9 * ts.tv_nsec
    if now < next_check[0]:
        return False
    next_check[0] = now + SIGNAL_CHECK_S
    return True


cdef class _Signals:
    """Runs Python's signal handlers when due (see SIGNAL_CHECK_S); `pending`
    is the exception one of them raised."""
    cdef bint active
    cdef double next_check
    cdef object pending

    def __init__(self):
        self.active = threading.current_thread() is threading.main_thread()
        self.next_check = 0.0

    cdef bint raised(self) noexcept nogil:
        if not self.active or not _signal_check_due(&self.next_check):
            return False
        with gil:
            try:
                PyErr_CheckSignals()
            except BaseException as exc:
                self.pending = exc
                return True
        return False


cdef struct Config:
    int loss, optimizer, schedule, n_threads
    Py_ssize_t n_outputs
    bint fit_intercept
    double loss_scale, weight_scale, label_smoothing, margin, delta
    bint squared, crammer_singer
    double eta, power_t, total_steps, weight_decay, l1
    double momentum, dampening, beta1, beta2, eps
    bint nesterov, amsgrad, decoupled, average
    int64_t step, n_averaged


cdef Config _config(s) except *:
    """The scalar settings of a skce._solver.epoch_settings record `s`."""
    cdef Config c
    c.loss = s.loss
    c.optimizer = s.optimizer
    c.schedule = s.schedule
    c.n_threads = s.n_threads
    c.n_outputs = s.n_outputs
    c.fit_intercept = s.fit_intercept
    c.loss_scale = s.loss_scale
    c.weight_scale = s.weight_scale
    c.label_smoothing = s.label_smoothing
    c.margin = s.margin
    c.delta = s.delta
    c.squared = s.squared
    c.crammer_singer = s.crammer_singer
    c.eta = s.eta
    c.power_t = s.power_t
    c.total_steps = s.total_steps
    c.weight_decay = s.weight_decay
    c.l1 = s.l1
    c.momentum = s.momentum
    c.dampening = s.dampening
    c.beta1 = s.beta1
    c.beta2 = s.beta2
    c.eps = s.eps
    c.nesterov = s.nesterov
    c.amsgrad = s.amsgrad
    c.decoupled = s.decoupled
    c.step = s.step
    c.average = s.average is not None
    c.n_averaged = s.n_averaged
    return c


cdef inline double _learning_rate(const Config *s) noexcept nogil:
    if s.schedule == _INVSCALING:
        return s.eta / pow(<double>s.step, s.power_t)
    if s.schedule == _COSINE:
        if s.total_steps <= 0:
            return s.eta
        return s.eta * 0.5 * (1.0 + cos(M_PI * min(<double>(s.step - 1), s.total_steps)
                                             / s.total_steps))
    return s.eta


cdef double _loss_rows(const Config *s, Py_ssize_t r0, Py_ssize_t r1, const floating *Z,
                       Py_ssize_t ldz, const int64_t *yb, const floating *Yb,
                       const double *swb, double grad_scale, floating *G,
                       Py_ssize_t *bad) noexcept nogil:
    """Weighted loss of batch rows [r0, r1) and their gradient (times grad_scale) into G
    (Z and G with row stride ldz, Yb with n_outputs)."""
    cdef Py_ssize_t K = s.n_outputs
    cdef skce_shape shape
    cdef skce_ce_options ce
    cdef skce_strides3 s3
    cdef skce_ew_options ew
    cdef skce_strides_nrl snrl, ys
    cdef skce_margin_options mo
    cdef skce_strides2 s2
    cdef int flags = 0
    if s.loss == _CROSS_ENTROPY:
        shape.n_classes = K
        shape.n_pos = 1
        shape.t_sample = 1
        shape.t_pos = 0
        ce.class_weight = NULL
        ce.sample_weight = swb
        ce.ignore_index = -100   # targets were checked to lie in [0, K)
        ce.label_smoothing = s.label_smoothing
        ce.grad_scale = grad_scale
        s3.sample = ldz
        s3.cls = 1
        s3.pos = ldz
        if floating is double:
            return skce_ce_index_block_f64(r0, r1, &shape, &ce, Z, s3, yb, NULL, G, s3)
        else:
            return skce_ce_index_block_f32(r0, r1, &shape, &ce, Z, s3, yb, NULL, G, s3)
    if s.loss == _MULTI_MARGIN:
        mo.n_classes = K
        mo.t_stride = 1
        mo.class_weight = NULL
        mo.sample_weight = swb
        mo.margin = s.margin
        mo.grad_scale = grad_scale
        mo.p = 2 if s.squared else 1
        mo.crammer_singer = s.crammer_singer
        s2.sample = ldz
        s2.cls = 1
        if floating is double:
            return skce_multi_margin_block_f64(r0, r1, &mo, Z, s2, yb, NULL, G, s2, bad)
        else:
            return skce_multi_margin_block_f32(r0, r1, &mo, Z, s2, yb, NULL, G, s2, bad)
    ew.n_rows = 1
    ew.n_cols = K
    ew.sample_weight = swb
    ew.grad_scale = grad_scale
    ew.margin = s.margin
    ew.delta = s.delta
    ew.squared = s.squared
    snrl.sample = ldz
    snrl.row = ldz
    snrl.col = 1
    ys.sample = K
    ys.row = K
    ys.col = 1
    if floating is double:
        if s.loss == _BCE:
            return skce_bce_block_f64(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, snrl,
                                      NULL, G, snrl)
        if s.loss == _SQUARED:
            return skce_mse_block_f64(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, G, snrl)
        if s.loss == _HUBER:
            return skce_huber_block_f64(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, G, snrl)
        return skce_hinge_block_f64(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, G, snrl,
                                    &flags)
    else:
        if s.loss == _BCE:
            return skce_bce_block_f32(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, snrl,
                                      NULL, G, snrl)
        if s.loss == _SQUARED:
            return skce_mse_block_f32(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, G, snrl)
        if s.loss == _HUBER:
            return skce_huber_block_f32(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, G, snrl)
        return skce_hinge_block_f32(r0, r1, &ew, Z, snrl, Yb, ys, NULL, snrl, NULL, G, snrl,
                                    &flags)


cdef inline void _gemm(char *ta, char *tb, int m, int n, int k, floating alpha,
                       const floating *a, int lda, const floating *b, int ldb, floating beta,
                       floating *c, int ldc) noexcept nogil:
    """Column-major BLAS gemm: c = alpha * op(a) op(b) + beta * c."""
    if floating is double:
        dgemm(ta, tb, &m, &n, &k, &alpha, <double *>a, &lda, <double *>b, &ldb, &beta, c, &ldc)
    else:
        sgemm(ta, tb, &m, &n, &k, &alpha, <float *>a, &lda, <float *>b, &ldb, &beta, c, &ldc)


cdef struct Work:
    # raw pointers to a _Batch's buffers (floating ones as void *: a struct
    # cannot be fused) and to the targets and weights of the settings
    void *Xb            # (B, d) gathered rows (dense X only)
    void *Z             # (B, K) logits
    void *G             # (B, K) dloss/dZ
    void *Yb            # (B, K) targets (when Y is used)
    void *grad          # (d * K + K,) gradient of theta
    void *Wp            # (d, ldz) W with zero-padded columns (small-K kernels), or NULL
    Py_ssize_t ldz      # row stride of Z and G
    int64_t *yb         # (B,) class indices (when y is used)
    double *swb         # (B,) row weights
    double *block_loss  # per block of RB rows
    Py_ssize_t *bad     # per block: first row with a bad target, or -1
    const int64_t *y
    const void *Y
    const double *sw


cdef void *_data(a):
    """Address of the first element of array a (NULL for None or empty)."""
    if a is None or a.size == 0:
        return NULL
    return <void *><size_t>a.__array_interface__["data"][0]


cdef class _Batch:
    """Per-batch work buffers (sized by the batch, never by the data set)."""
    cdef object arrays
    cdef Work w

    def __init__(self, s, Py_ssize_t gathered, Py_ssize_t B, Py_ssize_t d, bint dense, dtype):
        # gathered: rows of the row buffer (B, or 0 when no row is gathered)
        cdef Py_ssize_t K = s.n_outputs, n_blocks = (B + RB - 1) // RB
        cdef Py_ssize_t vl = 32 // np.dtype(dtype).itemsize
        index_target = s.y is not None
        # few outputs: skce's own products (dense.c), rows padded to whole vectors
        small_k = dense and K <= min(small_k_max, 3 * vl)
        ldz = (K + vl - 1) // vl * vl if small_k else K
        Xb = np.empty((gathered, d), dtype=dtype)
        Z = np.zeros(B * ldz, dtype=dtype)
        G = np.zeros(B * ldz, dtype=dtype)
        Wp = np.zeros(d * ldz if small_k else 0, dtype=dtype)
        Yb = np.empty(0 if index_target else B * K, dtype=dtype)
        yb = np.empty(B if index_target else 0, dtype=np.int64)
        swb = np.empty(B)
        grad = np.zeros(d * K + K, dtype=dtype)
        block_loss = np.zeros(n_blocks)
        bad = np.full(n_blocks, -1, dtype=np.intp)
        # the targets too, so that the pointers below stay valid
        self.arrays = (Xb, Z, G, Yb, yb, swb, grad, block_loss, bad, Wp, s.y, s.Y,
                       s.sample_weight)
        self.w.Xb = _data(Xb)
        self.w.Z = _data(Z)
        self.w.G = _data(G)
        self.w.Yb = _data(Yb)
        self.w.grad = _data(grad)
        self.w.Wp = _data(Wp) if small_k else NULL
        self.w.ldz = ldz
        self.w.yb = <int64_t *>_data(yb)
        self.w.swb = <double *>_data(swb)
        self.w.block_loss = <double *>_data(block_loss)
        self.w.bad = <Py_ssize_t *>_data(bad)
        self.w.y = <const int64_t *>_data(s.y)
        self.w.Y = _data(s.Y)
        self.w.sw = <const double *>_data(s.sample_weight)


cdef inline void _gather_targets(const Config *s, Py_ssize_t k, int64_t row, const Work *w,
                                 floating *Yb) noexcept nogil:
    """Batch row k's target and weight from data set row `row` (Yb = w.Yb)."""
    cdef Py_ssize_t c, K = s.n_outputs
    cdef const floating *Y = <const floating *>w.Y
    if w.y != NULL:
        w.yb[k] = w.y[row]
    else:
        for c in range(K):
            Yb[k * K + c] = Y[row * K + c]
    w.swb[k] = w.sw[row] if w.sw != NULL else 1.0


cdef void _intercept_grad(Py_ssize_t B, Py_ssize_t K, const floating *G, Py_ssize_t ldg,
                          floating *db) noexcept nogil:
    """db = column sums of G (B x K, row stride ldg), in double, rows in order;
    columns 16 at a time so that the sums are independent chains."""
    cdef Py_ssize_t k, c, c0, m
    cdef double acc[16]
    for c0 in range(0, K, 16):
        m = min(16, K - c0)
        for c in range(m):
            acc[c] = 0.0
        for k in range(B):
            for c in range(m):
                acc[c] += G[k * ldg + c0 + c]
        for c in range(m):
            db[c0 + c] = <floating>acc[c]


cdef struct Params:
    # the flat parameter vector, the optimizer state and the running mean of
    # theta over the epoch (NULL without averaging)
    void *theta
    void *st1
    void *st2
    void *st3
    void *avg


cdef Params _params(s) except *:
    cdef Params p
    p.theta = _data(s.theta)
    p.st1 = _data(s.state1)
    p.st2 = _data(s.state2)
    p.st3 = _data(s.state3)
    p.avg = _data(s.average) if s.average is not None else NULL
    return p


cdef void _optimizer_step(Config *s, Py_ssize_t P, const Params *pp,
                          const floating *grad) noexcept nogil:
    """One step on W = theta[:P] (regularized) then b = theta[P:] (not), in
    fixed parameter chunks; then, when averaging, theta is folded into the
    epoch's running mean."""
    cdef skce_optim_options o
    cdef Py_ssize_t n_chunks = (P + PC - 1) // PC
    cdef Py_ssize_t c, p0, p1, K = s.n_outputs
    cdef floating *theta = <floating *>pp.theta
    cdef floating *st1 = <floating *>pp.st1
    cdef floating *st2 = <floating *>pp.st2
    cdef floating *st3 = <floating *>pp.st3
    cdef floating *avg = <floating *>pp.avg
    o.lr = _learning_rate(s)
    o.weight_decay = s.weight_decay
    o.l1 = s.l1
    o.momentum = s.momentum
    o.dampening = s.dampening
    o.beta1 = s.beta1
    o.beta2 = s.beta2
    o.eps = s.eps
    o.step = s.step
    o.nesterov = s.nesterov
    o.amsgrad = s.amsgrad
    o.decoupled = s.decoupled
    if avg != NULL:
        s.n_averaged += 1
    for c in prange(n_chunks, num_threads=_threads_for(<double>P * 8, s.n_threads),
                    schedule="static"):
        p0 = c * PC
        p1 = min(p0 + PC, P)
        _step_range(s.optimizer, p1 - p0, &o, theta + p0, grad + p0, st1 + p0, st2 + p0,
                    st3 + p0)
        if avg != NULL:
            _running_mean(p1 - p0, s.n_averaged, avg + p0, theta + p0)
    if s.fit_intercept:
        o.weight_decay = 0.0
        o.l1 = 0.0
        o.decoupled = 0
        _step_range(s.optimizer, K, &o, theta + P, grad + P, st1 + P, st2 + P, st3 + P)
    if avg != NULL:
        _running_mean(K, s.n_averaged, avg + P, theta + P)


cdef inline void _step_range(int optimizer, Py_ssize_t n, const skce_optim_options *o,
                             floating *p, const floating *g, floating *st1, floating *st2,
                             floating *st3) noexcept nogil:
    if floating is double:
        if optimizer == _SGD:
            skce_sgd_step_f64(n, o, p, g, st1)
        else:
            skce_adam_step_f64(n, o, p, g, st1, st2, st3)
    else:
        if optimizer == _SGD:
            skce_sgd_step_f32(n, o, p, g, st1)
        else:
            skce_adam_step_f32(n, o, p, g, st1, st2, st3)


cdef inline void _running_mean(Py_ssize_t n, int64_t count, floating *mean,
                               const floating *p) noexcept nogil:
    if floating is double:
        skce_running_mean_f64(n, count, mean, p)
    else:
        skce_running_mean_f32(n, count, mean, p)


cdef int _batch_loss(Py_ssize_t n_blocks, const Work *w, const int64_t *order, Py_ssize_t nb,
                     double *total, double *weight, Py_ssize_t *info) noexcept nogil:
    """Adds a batch's block losses in block order to *total and its row
    weights to *weight; returns _BAD_TARGET (*info = the row of X),
    _NONFINITE, or _OK."""
    cdef double batch_loss = 0.0
    cdef Py_ssize_t blk, k
    for blk in range(n_blocks):
        if w.bad[blk] >= 0:
            info[0] = order[w.bad[blk]]
            return _BAD_TARGET
        batch_loss += w.block_loss[blk]
    if not isfinite(batch_loss):
        return _NONFINITE
    total[0] += batch_loss
    for k in range(nb):
        weight[0] += w.swb[k]
    return _OK


cdef void _sum_partials(Py_ssize_t n_blocks, Py_ssize_t P, const floating *partial,
                        floating *grad, int n_threads) noexcept nogil:
    """grad[:P] = the blocks' shares of dW added in block order (the same sums
    for any thread count), parameters split in fixed chunks."""
    cdef Py_ssize_t n_chunks = (P + PC - 1) // PC
    cdef Py_ssize_t ch, q, blk, p0, p1
    for ch in prange(n_chunks, num_threads=_threads_for(<double>n_blocks * P, n_threads),
                     schedule="static"):
        p0 = ch * PC
        p1 = min(p0 + PC, P)
        for q in range(p0, p1):
            grad[q] = partial[q]
        for blk in range(1, n_blocks):
            for q in range(p0, p1):
                grad[q] += partial[blk * P + q]


cdef inline void _pad_columns(Py_ssize_t rows, Py_ssize_t K, const floating *src,
                              floating *dst) noexcept nogil:
    if floating is double:
        skce_pad_columns_f64(rows, K, src, dst)
    else:
        skce_pad_columns_f32(rows, K, src, dst)


cdef inline void _small_k_logits(Py_ssize_t n, Py_ssize_t d, Py_ssize_t K, const floating *A,
                                 Py_ssize_t lda, const floating *W,
                                 floating *Z) noexcept nogil:
    if floating is double:
        skce_small_k_logits_f64(n, d, K, A, lda, W, Z)
    else:
        skce_small_k_logits_f32(n, d, K, A, lda, W, Z)


cdef void _weight_grad_dense(const Config *cfg, Py_ssize_t nb, Py_ssize_t d,
                             const floating *A, Py_ssize_t lda, const Work *w,
                             floating *grad) noexcept nogil:
    """dW = Aᵀ G into grad[:d K] (A: the batch's rows, see _forward_dense)."""
    cdef Py_ssize_t K = cfg.n_outputs
    cdef int threads = _threads_for(<double>nb * d * K, cfg.n_threads)
    cdef Py_ssize_t groups = (d + 3) // 4
    cdef Py_ssize_t t, j0, j1
    cdef const floating *G = <const floating *>w.G
    if d == 0:
        return
    if w.Wp == NULL:   # many outputs: one BLAS call (as in _forward_dense)
        _gemm("N", "T", <int>K, <int>d, <int>nb, <floating>1.0, G, <int>K, A, <int>lda,
              <floating>0.0, grad, <int>K)
        return
    # each thread one even share of the features, in groups of 4 (the kernel's
    # register block); each dW[j] is its own sum over the rows, so the split
    # does not change results
    for t in prange(threads, num_threads=threads, schedule="static"):
        j0 = min(d, 4 * (t * groups // threads))
        j1 = min(d, 4 * ((t + 1) * groups // threads))
        if floating is double:
            skce_small_k_weight_grad_f64(nb, j0, j1, K, A, lda, G, grad)
        else:
            skce_small_k_weight_grad_f32(nb, j0, j1, K, A, lda, G, grad)


cdef int _forward_dense(const Config *cfg, const floating *X, Py_ssize_t rs, Py_ssize_t cs,
                        Py_ssize_t d, const int64_t *order, Py_ssize_t nb, Py_ssize_t n_ahead,
                        const floating *theta, const Work *w, double *total, double *weight,
                        Py_ssize_t *info, const floating **A, Py_ssize_t *lda,
                        floating *partial, bint in_place) noexcept nogil:
    """The loss of batch rows X[order[:nb]] (element strides rs, cs) under
    parameters theta, added to *total (row weights to *weight); dloss/dZ is
    left in w.G and the batch's rows in the matrix *A (leading dimension
    *lda): w.Xb, or X itself.  order has n_ahead entries (the rows after the
    batch are prefetched).  Returns a status (see _batch_loss).
    in_place: the rows are consecutive rows of a C-ordered X, a matrix
    already (read in place, nothing gathered).
    With `partial` (n_blocks x d K, skce's own products only), each block
    also computes its share of dW = Aᵀ G on the thread that gathered its
    rows, while they are in its cache (a split by features made each thread
    read the other's rows: 2 threads were slower than 1 there); returns
    _PARTIAL_GRAD then."""
    cdef Py_ssize_t K = cfg.n_outputs, P = d * K
    cdef Py_ssize_t n_blocks = (nb + RB - 1) // RB
    cdef Py_ssize_t blk, r0, r1, k, c
    cdef int64_t row
    cdef int threads = _threads_for(<double>nb * (d + 1) * K, cfg.n_threads)
    cdef double grad_scale = cfg.loss_scale / (nb * cfg.weight_scale)
    cdef int status
    cdef floating *Xb = <floating *>w.Xb
    cdef floating *Z = <floating *>w.Z
    cdef Py_ssize_t ldz = w.ldz
    cdef floating *Wp = <floating *>w.Wp
    cdef const floating *Ab
    A[0] = X + order[0] * rs if in_place else Xb
    lda[0] = rs if in_place else d
    Ab = A[0]
    if Wp != NULL:
        _pad_columns(d, K, theta, Wp)
    for blk in prange(n_blocks, num_threads=threads, schedule="static"):
        r0 = blk * RB
        r1 = min(r0 + RB, nb)
        if in_place:
            pass
        elif floating is double:
            skce_gather_rows_f64(r1 - r0, n_ahead - r0, order + r0, X, rs, cs, d, Xb + r0 * d)
        else:
            skce_gather_rows_f32(r1 - r0, n_ahead - r0, order + r0, X, rs, cs, d, Xb + r0 * d)
        for k in range(r0, r1):
            row = order[k]
            for c in range(K):
                Z[k * ldz + c] = theta[P + c]
            _gather_targets(cfg, k, row, w, <floating *>w.Yb)
        if Wp == NULL:
            continue
        # skce's products: the whole batch step for the block's rows while
        # they are in this thread's cache: Z += Xb W, the loss and G, and
        # the block's share of dW
        _small_k_logits(r1 - r0, d, K, Ab + r0 * lda[0], lda[0], Wp, Z + r0 * ldz)
        w.block_loss[blk] = _loss_rows(cfg, r0, r1, Z, ldz, w.yb, <floating *>w.Yb, w.swb,
                                       grad_scale, <floating *>w.G, &w.bad[blk])
        if partial != NULL and d > 0:
            if floating is double:
                skce_small_k_weight_grad_f64(r1 - r0, 0, d, K, Ab + r0 * lda[0], lda[0],
                                             <const double *>w.G + r0 * ldz, partial + blk * P)
            else:
                skce_small_k_weight_grad_f32(r1 - r0, 0, d, K, Ab + r0 * lda[0], lda[0],
                                             <const float *>w.G + r0 * ldz, partial + blk * P)
    if Wp == NULL:
        # Z += Xb W for many outputs (row-major, i.e. Zᵀ += Wᵀ Xbᵀ column-major).
        # One BLAS call outside the parallel regions: concurrent calls into
        # OpenBLAS from OpenMP threads were measured 30x slower.
        if d > 0:
            _gemm("N", "N", <int>K, <int>nb, <int>d, <floating>1.0, theta, <int>K, Ab,
                  <int>lda[0], <floating>1.0, Z, <int>K)
        for blk in prange(n_blocks, num_threads=threads, schedule="static"):
            r0 = blk * RB
            r1 = min(r0 + RB, nb)
            w.block_loss[blk] = _loss_rows(cfg, r0, r1, Z, ldz, w.yb, <floating *>w.Yb,
                                           w.swb, grad_scale, <floating *>w.G, &w.bad[blk])
    status = _batch_loss(n_blocks, w, order, nb, total, weight, info)
    if status == _OK and partial != NULL:
        return _PARTIAL_GRAD
    return status


cdef int _forward_csr(const Config *cfg, const floating *data, const index_t *indices,
                      const index_t *indptr, Py_ssize_t d, const int64_t *order,
                      Py_ssize_t nb, const floating *theta, const Work *w, double *total,
                      double *weight, Py_ssize_t *info, floating *partial) noexcept nogil:
    """_forward_dense for a CSR matrix (data, indices, indptr); no row buffer.
    With `partial` (n_blocks x d K), also each block's share of dW = Xbᵀ G,
    scattered while the block's rows are in cache; returns _PARTIAL_GRAD
    then, or scatters nothing when it is cheaper to do serially afterwards."""
    cdef Py_ssize_t K = cfg.n_outputs, P = d * K
    cdef Py_ssize_t n_blocks = (nb + RB - 1) // RB
    cdef Py_ssize_t blk, r0, r1, k, c, q, j, nnz = 0
    cdef int64_t row
    cdef floating v
    cdef int threads, status
    cdef double grad_scale = cfg.loss_scale / (nb * cfg.weight_scale)
    cdef floating *Z = <floating *>w.Z
    for k in range(nb):
        row = order[k]
        nnz += indptr[row + 1] - indptr[row]
    threads = _threads_for(<double>(nnz + nb) * K, cfg.n_threads)
    # zeroing the block partials costs n_blocks d K: worth it only when the
    # scatter itself (nnz K) is at least as much work
    if partial != NULL and n_blocks * P > nnz * K:
        partial = NULL
    cdef floating *G = <floating *>w.G
    cdef floating *part
    for blk in prange(n_blocks, num_threads=threads, schedule="static"):
        r0 = blk * RB
        r1 = min(r0 + RB, nb)
        for k in range(r0, r1):
            row = order[k]
            for c in range(K):
                Z[k * K + c] = theta[P + c]
            for q in range(indptr[row], indptr[row + 1]):
                j = indices[q]
                v = data[q]
                for c in range(K):
                    Z[k * K + c] += v * theta[j * K + c]
            _gather_targets(cfg, k, row, w, <floating *>w.Yb)
        w.block_loss[blk] = _loss_rows(cfg, r0, r1, Z, K, w.yb, <floating *>w.Yb, w.swb,
                                       grad_scale, G, &w.bad[blk])
        if partial != NULL:
            part = partial + blk * P
            for q in range(P):
                part[q] = 0
            for k in range(r0, r1):
                row = order[k]
                for q in range(indptr[row], indptr[row + 1]):
                    j = indices[q]
                    v = data[q]
                    for c in range(K):
                        part[j * K + c] += v * G[k * K + c]
    status = _batch_loss(n_blocks, w, order, nb, total, weight, info)
    if status == _OK and partial != NULL:
        return _PARTIAL_GRAD
    return status


cdef void _update(Config *cfg, Py_ssize_t P, Py_ssize_t nb, const Work *w, const Params *pp,
                  floating *grad) noexcept nogil:
    """With dW in grad[:P] (grad = w.grad): the intercept gradient, then one
    optimizer step."""
    if cfg.fit_intercept:
        _intercept_grad(nb, cfg.n_outputs, <const floating *>w.G, w.ldz, grad + P)
    cfg.step += 1
    _optimizer_step(cfg, P, pp, grad)


def _check_state(s, Py_ssize_t size):
    names = ("theta", "state1", "state2", "state3")
    if s.average is not None:
        names += ("average",)
    for name in names:
        a = getattr(s, name)
        if a.shape != (size,) or not a.flags.c_contiguous:
            raise ValueError(f"solver state {name} must be C-contiguous of shape ({size},)")


def epoch_dense(s, const floating[:, :] X, const int64_t[::1] order, Py_ssize_t batch_size,
                bint train=True):
    """One epoch over the rows X[order] in minibatches of batch_size.

    `s` (see skce._solver.epoch_settings) gives the settings, the targets
    (s.y class indices or s.Y rows), s.sample_weight and the flat parameter
    and optimizer-state arrays, updated in place; s.step counts the steps;
    with s.average, s.average becomes the mean of theta after each of the
    s.n_averaged steps so far.  train=False takes no step: it only sums the
    losses of the model (s.average when averaging, else s.theta).
    Returns (sum of the weighted row losses times s.loss_scale, sum of the
    row weights, status, info): status OK; NONFINITE when a batch loss was
    not finite (the epoch stopped before that step; info = position of the
    batch in order); BAD_TARGET when a target is out of range (info = row);
    INTERRUPTED when a signal handler raised between batches (Ctrl-C; info
    = the exception, for the caller to raise once it restored its state).
    """
    cdef Py_ssize_t n = order.shape[0], d = X.shape[1]
    cdef Config cfg = _config(s)
    cdef Py_ssize_t K = cfg.n_outputs, P = d * K
    cdef Py_ssize_t B = max(1, min(batch_size, n))
    _check_state(s, P + K)
    cdef Py_ssize_t rs = X.strides[0] // sizeof(floating), cs = X.strides[1] // sizeof(floating)
    # consecutive rows of a C-ordered X (the evaluation pass, shuffle=False)
    # are a matrix already: the products read them in place, no row buffer
    cdef bint in_place = d > 0 and cs == 1 and rs >= d
    cdef Py_ssize_t k = 1
    while in_place and k < n:
        in_place = order[k] == order[k - 1] + 1
        k += 1
    cdef _Batch buf = _Batch(s, 0 if in_place else B, B, d, True,
                             np.float64 if floating is double else np.float32)
    cdef Params pp = _params(s)
    cdef const floating *model = <const floating *>(
        pp.theta if train or pp.avg == NULL else pp.avg)
    cdef const floating *Xp = &X[0, 0] if n and d else NULL
    cdef const floating *A = NULL
    cdef Py_ssize_t lda = 0
    cdef double total = 0.0, weight = 0.0
    cdef Py_ssize_t start = 0, nb
    cdef int status = _OK
    cdef Py_ssize_t info = -1
    cdef floating *grad = <floating *>buf.w.grad
    # per-block shares of dW (skce's products), when they stay small: they
    # cost 1/RB of the product itself
    cdef Py_ssize_t n_blocks = (B + RB - 1) // RB
    partial_arr = np.empty(
        n_blocks * P if train and buf.w.Wp != NULL and n_blocks * P <= partial_max else 0,
        dtype=np.float64 if floating is double else np.float32)
    cdef floating *partial = <floating *>_data(partial_arr)
    cdef _Signals signals = _Signals()
    with nogil:
        while start < n:
            if start and signals.raised():
                status = _INTERRUPTED
                break
            nb = min(B, n - start)
            status = _forward_dense(&cfg, Xp, rs, cs, d, &order[start], nb, n - start, model,
                                    &buf.w, &total, &weight, &info, &A, &lda, partial,
                                    in_place)
            if status == _PARTIAL_GRAD:
                status = _OK
                _sum_partials((nb + RB - 1) // RB, P, partial, grad, cfg.n_threads)
                _update(&cfg, P, nb, &buf.w, &pp, grad)
            elif status != _OK:
                if status == _NONFINITE:
                    info = start
                break
            elif train:
                _weight_grad_dense(&cfg, nb, d, A, lda, &buf.w, grad)
                _update(&cfg, P, nb, &buf.w, &pp, grad)
            start += nb
    s.step = cfg.step
    s.n_averaged = cfg.n_averaged
    return total * cfg.loss_scale, weight, status, \
        signals.pending if status == _INTERRUPTED else info


def epoch_csr(s, const floating[::1] data, const index_t[::1] indices,
              const index_t[::1] indptr, Py_ssize_t n_features, const int64_t[::1] order,
              Py_ssize_t batch_size, bint train=True):
    """epoch_dense for a CSR matrix given by (data, indices, indptr)."""
    cdef Py_ssize_t n = order.shape[0], d = n_features
    cdef Config cfg = _config(s)
    cdef Py_ssize_t K = cfg.n_outputs, P = d * K
    cdef Py_ssize_t B = max(1, min(batch_size, n))
    _check_state(s, P + K)
    cdef _Batch buf = _Batch(s, 0, B, d, False, np.float64 if floating is double else np.float32)
    cdef Params pp = _params(s)
    cdef const floating *model = <const floating *>(
        pp.theta if train or pp.avg == NULL else pp.avg)
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] else NULL
    cdef floating *grad = <floating *>buf.w.grad
    cdef const floating *G = <const floating *>buf.w.G
    cdef double total = 0.0, weight = 0.0
    cdef Py_ssize_t start = 0, nb, k, c, q, j, blk
    cdef int64_t row
    cdef floating v
    cdef int status = _OK
    cdef Py_ssize_t info = -1
    # per-block shares of dW (parallel scatter), when they stay small
    cdef Py_ssize_t n_blocks = (B + RB - 1) // RB
    partial_arr = np.empty(n_blocks * P if train and n_blocks * P <= partial_max else 0,
                           dtype=np.float64 if floating is double else np.float32)
    cdef floating *partial = <floating *>_data(partial_arr)
    cdef _Signals signals = _Signals()
    with nogil:
        while start < n:
            if start and signals.raised():
                status = _INTERRUPTED
                break
            nb = min(B, n - start)
            status = _forward_csr(&cfg, dp, ip, &indptr[0], d, &order[start], nb, model,
                                  &buf.w, &total, &weight, &info, partial)
            if status == _PARTIAL_GRAD:
                status = _OK
                _sum_partials((nb + RB - 1) // RB, P, partial, grad, cfg.n_threads)
                _update(&cfg, P, nb, &buf.w, &pp, grad)
                start += nb
                continue
            if status != _OK:
                if status == _NONFINITE:
                    info = start
                break
            if train:
                # dW = Xbᵀ G by scatter in batch order (serial: deterministic)
                for q in range(P):
                    grad[q] = 0
                for k in range(nb):
                    row = order[start + k]
                    for q in range(indptr[row], indptr[row + 1]):
                        j = indices[q]
                        v = data[q]
                        for c in range(K):
                            grad[j * K + c] += v * G[k * K + c]
                _update(&cfg, P, nb, &buf.w, &pp, grad)
            start += nb
    s.step = cfg.step
    s.n_averaged = cfg.n_averaged
    return total * cfg.loss_scale, weight, status, \
        signals.pending if status == _INTERRUPTED else info


def optimizer_step(s, floating[::1] grad):
    """One optimizer step of s (settings and state, as for epoch_dense) with
    the given flat gradient: the same code path as training, for tests
    against torch.optim."""
    cdef Config cfg = _config(s)
    cdef Py_ssize_t K = cfg.n_outputs
    cdef Py_ssize_t P = grad.shape[0] - K
    _check_state(s, P + K)
    cdef Params pp = _params(s)
    cfg.step += 1
    with nogil:
        _optimizer_step(&cfg, P, &pp, &grad[0])
    s.step = cfg.step
    s.n_averaged = cfg.n_averaged
