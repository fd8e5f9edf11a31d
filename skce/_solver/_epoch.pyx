"""The compiled training epoch behind every skce estimator.

One epoch runs without the GIL: for each minibatch (rows `order[k:k+B]`),
  1. per fixed block of RB batch rows (OpenMP): gather the rows of X into the
     batch buffer (dense X, unless they are consecutive rows of a C-ordered
     X, read in place; for CSR the logits come from skce_csr_logits);
  2. logits Z = X_b W + b: with few outputs (dense) skce's register-blocked
     product (src/solver/dense*), in the same block loop; else one BLAS gemm;
  3. per block (OpenMP): skce_loss_rows (src/loss/) gives the block's
     weighted loss and G = dloss/dZ, and, where cheap enough, the block's
     share of dW = X_bᵀ G (dense with few outputs, or a CSR scatter) while
     its rows are in cache; otherwise dW after the blocks (split by features,
     or one gemm; a serial scatter for CSR); db = column sums of G;
  4. the optimizer step (src/solver/optim*), with the learning-rate schedule,
     and with averaging the running mean of the iterates.
The numerics are C (src/solver/, src/loss/); this module owns the buffers,
the OpenMP loops over fixed blocks and the GIL.  `_batches` is the one
minibatch loop, `_optimizer_step` the one optimizer step.
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
from libc.stdint cimport int64_t, uint64_t
from libc.math cimport isfinite
from libc.string cimport memset
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from cpython.exc cimport PyErr_CheckSignals
from scipy.linalg.cython_blas cimport dgemm, sgemm

import threading

import numpy as np

from skce._kernels cimport *

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


# CSR training steps may update only the weight rows the batch touches (see
# src/solver/skce_solver.h, "Lazy updates"): -1 as the caller's `lazy`
# argument says (skce._solver._train.lazy_pays), 1 always, 0 never.
cdef int lazy_csr = -1


def _set_lazy_csr(on):
    """Force lazy (True) or eager (False) updates for CSR training, or leave
    the choice to the caller (None, the default); returns the previous
    setting.  For tests and benchmarks."""
    global lazy_csr
    previous = None if lazy_csr < 0 else bool(lazy_csr)
    lazy_csr = -1 if on is None else (1 if on else 0)
    return previous


# Weight rows per chunk of the lazy step and catch-up (fixed, as PC).
cdef Py_ssize_t LC = 256
# The penalty history restarts (every row caught up, O(d K)) once its
# product S falls below this.  The catch-up takes differences of prefix sums
# of S, which lose about log10(1 / S) digits: 1e-4 keeps them to ~1e-12
# (1e-100 lost all of them for averaged weights).  Only large lr * alpha
# restarts often (lr * alpha = 0.01: every ~900 steps).
cdef double LAZY_RESTART = 1e-4


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


# OptimizerSpec.solver and .learning_rate -> the C codes (skce_solver.h)
# (svrg: plain SGD steps on the variance-reduced gradient, see set_snapshot)
_OPTIMIZERS = {"sgd": SKCE_SGD, "adam": SKCE_ADAM, "rmsprop": SKCE_RMSPROP,
               "adagrad": SKCE_ADAGRAD, "svrg": SKCE_SGD}
_SCHEDULES = {"constant": SKCE_LR_CONSTANT, "adaptive": SKCE_LR_CONSTANT,
              "invscaling": SKCE_LR_INVSCALING, "cosine": SKCE_LR_COSINE}

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
    skce_loss_spec loss
    int optimizer, schedule, n_threads
    Py_ssize_t n_outputs
    bint fit_intercept
    double loss_scale, weight_scale
    double eta, power_t, total_steps   # the learning-rate schedule
    skce_optim_options optim           # its lr and step are set at each step
    int64_t step, n_averaged
    bint lazy                          # this pass: lazy CSR updates
    bint lazy_exact                    # plain SGD: deferred steps applied exactly
    bint lazy_scaled                   # this pass: W = S V, no catch-up (exact, no L1)
    int64_t t_epoch                    # steps of this pass (lazy)
    double snapshot_scale              # SVRG: see EpochSettings.set_snapshot


cdef struct Params:
    # the flat parameter vector, the optimizer state and the running mean of
    # theta over the epoch (NULL without averaging)
    void *theta
    void *st1
    void *st2
    void *st3
    void *avg


cdef struct Work:
    # raw pointers to the batch buffers of an EpochSettings (floating ones as
    # void *: a struct cannot be fused) and to its targets and weights
    void *Xb            # (B, d) gathered rows (dense X only)
    void *Z             # (B, K) logits
    void *G             # (B, K) dloss/dZ
    void *Yb            # (B, K) targets (when Y is used)
    void *grad          # (d * K + K,) gradient of theta
    void *Wp            # (d, ldz) W with zero-padded columns (small-K kernels), or NULL
    void *partial       # (n_blocks, d K) per-block shares of dW, or NULL
    Py_ssize_t ldz      # row stride of Z and G
    int64_t *yb         # (B,) class indices (when y is used)
    double *swb         # (B,) row weights
    double *block_loss  # per block of RB rows
    Py_ssize_t *bad     # per block: first row with a bad target, or -1
    const int64_t *y
    const void *Y
    const double *sw
    # lazy CSR updates: per feature its position in the batch's touched list,
    # the epoch step it is caught up to, and (lazy variant) the global step of
    # its last update; the touched features; a bitmap of them; the penalty history
    uint64_t *bits
    int64_t *pos
    int64_t *last
    int64_t *pending
    int64_t *touched
    Py_ssize_t n_touched
    skce_lazy_history hist
    # SVRG (NULL otherwise, see EpochSettings.set_snapshot): the snapshot's
    # dloss/dZ of every row of X (n, K), its full loss gradient (d K + K,),
    # and the rows of X in the batch (B,)
    const void *Gs
    const void *mu
    int64_t *rowb


cdef struct Source:
    # the rows of the epoch: dense X (element strides rs, cs), or CSR
    bint csr
    Py_ssize_t d
    const void *X
    Py_ssize_t rs, cs
    bint in_place       # dense: consecutive rows of a C-ordered X, read in place
    skce_csr sparse     # CSR: data, indices, indptr (both int32 or both int64)


cdef void *_data(a):
    """Address of the first element of array a (NULL for None or empty)."""
    if a is None or a.size == 0:
        return NULL
    return <void *><size_t>a.__array_interface__["data"][0]


cdef skce_loss_spec _c_loss_spec(spec):
    """The C kernels' loss spec of a LossSpec (skce._solver._train)."""
    cdef skce_loss_spec ls
    ls.kind = spec.kind
    ls.n_outputs = spec.n_outputs
    ls.label_smoothing = spec.label_smoothing
    ls.margin = spec.margin
    ls.delta = spec.delta
    ls.squared = spec.squared
    ls.crammer_singer = spec.crammer_singer
    return ls


cdef int _csr_source(Source *src, Py_ssize_t n_features, const void *data, indices,
                     indptr) except -1:
    """src = CSR X given by (data, indices, indptr); TypeError unless both
    index arrays are C-contiguous and both int32 or both int64."""
    if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64) \
            or not indices.flags.c_contiguous or not indptr.flags.c_contiguous:
        raise TypeError("CSR indices and indptr must be C-contiguous and both int32 or "
                        "both int64")
    src.csr = True
    src.d = n_features
    src.sparse.data = data
    src.sparse.indices = _data(indices)
    src.sparse.indptr = _data(indptr)
    src.sparse.index64 = indices.dtype == np.int64
    src.in_place = False
    return 0


cdef class EpochSettings:
    """Everything the compiled epoch reads: the loss (a LossSpec), the
    optimizer (an OptimizerSpec), the state's arrays (a SolverState, shared,
    updated in place), the targets and sample weights, and the batch buffers,
    allocated on first use and reused by every epoch and evaluation pass.
    Made once per fit; `eta`, `step` and `n_averaged` change during it."""
    cdef Config c
    cdef Params p
    cdef Work w
    cdef readonly object theta, state1, state2, state3, average, y, Y, sample_weight
    cdef object _buffers, _key, _partial, _lazy_buffers, _snapshot
    cdef Py_ssize_t _rows, _gathered

    def __init__(self, loss, opt, state, *, n_threads=1, fit_intercept=True, weight_scale=1.0,
                 total_steps=0, sample_weight=None):
        l1, l2 = opt.l1_l2()
        with_momentum = opt.solver in ("sgd", "rmsprop")
        self.c.loss = _c_loss_spec(loss)
        self.c.optimizer = _OPTIMIZERS[opt.solver]
        self.c.schedule = _SCHEDULES[opt.learning_rate]
        self.c.n_threads = n_threads
        self.c.n_outputs = loss.n_outputs
        self.c.fit_intercept = fit_intercept
        self.c.loss_scale = loss.scale
        self.c.weight_scale = weight_scale
        self.c.eta = state.eta
        self.c.power_t = opt.power_t
        self.c.total_steps = total_steps
        self.c.optim.lr = 0.0
        self.c.optim.step = 0
        self.c.optim.weight_decay = l2
        self.c.optim.l1 = l1
        self.c.optim.momentum = opt.momentum if with_momentum else 0.0
        self.c.optim.dampening = opt.dampening
        self.c.optim.beta1 = opt.beta_1
        self.c.optim.beta2 = opt.beta_2
        self.c.optim.eps = opt.epsilon
        self.c.optim.nesterov = opt.nesterov
        self.c.optim.amsgrad = opt.amsgrad
        self.c.optim.decoupled = opt.solver == "adam" and opt.decoupled_weight_decay
        self.c.optim.rho = opt.rho
        self.c.optim.centered = opt.solver == "rmsprop" and opt.centered
        self.c.optim.lr_decay = opt.lr_decay
        self.c.optim.initial_accumulator_value = opt.initial_accumulator_value
        self.c.step = state.step
        self.c.n_averaged = 0
        self.theta, self.state1, self.state2 = state.theta, state.state1, state.state2
        self.state3, self.average = state.state3, state.average
        names = ("theta", "state1", "state2", "state3") + (
            ("average",) if self.average is not None else ())
        for name in names:
            a = getattr(self, name)
            if a.ndim != 1 or a.shape != self.theta.shape or a.dtype != self.theta.dtype \
                    or not a.flags.c_contiguous or not a.flags.writeable:
                raise ValueError(f"solver state {name} must be a writeable C-contiguous "
                                 f"{self.theta.dtype} array of shape {self.theta.shape}")
        self.p.theta = _data(self.theta)
        self.p.st1 = _data(self.state1)
        self.p.st2 = _data(self.state2)
        self.p.st3 = _data(self.state3)
        self.p.avg = _data(self.average) if self.average is not None else NULL
        self.y, self.Y, self.sample_weight = loss.y, loss.Y, sample_weight
        self.w.y = <const int64_t *>_data(self.y)
        self.w.Y = _data(self.Y)
        self.w.sw = <const double *>_data(self.sample_weight)
        self._key = None
        self._partial = None
        self._lazy_buffers = None
        self.c.lazy = self.c.lazy_scaled = False
        self.c.lazy_exact = self.c.optimizer == SKCE_SGD and self.c.optim.momentum == 0.0
        self.c.t_epoch = 0
        self._snapshot = None
        self.w.Gs = NULL
        self.w.mu = NULL
        self.c.snapshot_scale = 0.0

    def set_snapshot(self, row_gradients, mean_gradient, double scale):
        """SVRG: make every training step use the variance-reduced gradient
        g_B(theta) - g_B(snapshot) + mean_gradient, with g_B the batch's loss
        gradient (as the steps use it) and mean_gradient the snapshot's full
        loss gradient (no penalty: the step adds it at theta).

        row_gradients: (n_samples, n_outputs) C-contiguous array of theta's
        dtype, dloss/dZ of every row of X at the snapshot as
        LinearObjective's (row weight times its scale / weight sum); scale:
        that objective's weight sum / the loss's scale, so that grad_scale *
        scale * row_gradients[i] is row i's G at the snapshot.  Subtracted
        from G, g_B(snapshot) costs no second pass over the batch: the one
        product dW = X_bᵀ G (and db) forms the difference.  mean_gradient:
        (d K + K,) of theta's dtype.  None for both: plain steps again.  The
        arrays are referenced, not copied (their contents may change between
        epochs)."""
        if row_gradients is None:
            self._snapshot = None
            self.w.Gs = NULL
            self.w.mu = NULL
            return
        dtype = self.theta.dtype
        if row_gradients.dtype != dtype or not row_gradients.flags.c_contiguous or \
                row_gradients.ndim != 2 or row_gradients.shape[1] != self.c.n_outputs:
            raise ValueError(f"row_gradients must be a C-contiguous {dtype} array of shape "
                             f"(n_samples, {self.c.n_outputs})")
        if mean_gradient.dtype != dtype or not mean_gradient.flags.c_contiguous or \
                mean_gradient.shape != self.theta.shape:
            raise ValueError(f"mean_gradient must be a C-contiguous {dtype} array of shape "
                             f"{self.theta.shape}")
        self._snapshot = (row_gradients, mean_gradient)
        self.w.Gs = _data(row_gradients)
        self.w.mu = _data(mean_gradient)
        self.c.snapshot_scale = scale

    @property
    def eta(self):
        """The base learning rate (lowered by learning_rate="adaptive")."""
        return self.c.eta

    @eta.setter
    def eta(self, double value):
        self.c.eta = value

    @property
    def step(self):
        """Optimizer steps taken (the state's, plus those of this fit)."""
        return self.c.step

    @step.setter
    def step(self, int64_t value):
        self.c.step = value

    @property
    def n_averaged(self):
        """Iterates in the running mean s.average (set 0 to restart it)."""
        return self.c.n_averaged

    @n_averaged.setter
    def n_averaged(self, int64_t value):
        self.c.n_averaged = value

    cdef int _check_rows(self, Py_ssize_t n_rows) except -1:
        """The snapshot's row gradients must cover X's rows (the epoch reads
        them by row index, unchecked)."""
        if self._snapshot is not None and self._snapshot[0].shape[0] != n_rows:
            raise ValueError(f"the snapshot's row_gradients have {self._snapshot[0].shape[0]} "
                             f"rows, X has {n_rows}")
        return 0

    cdef int _check(self, Py_ssize_t d, dtype) except -1:
        cdef Py_ssize_t size = (d + 1) * self.c.n_outputs
        if self.theta.shape[0] != size:
            raise ValueError(f"solver state theta must have shape ({size},) for {d} features")
        if self.theta.dtype != dtype:
            raise TypeError(f"X is {np.dtype(dtype)} but the solver state is {self.theta.dtype}")
        return 0

    cdef int _reserve(self, Py_ssize_t gathered, Py_ssize_t B, Py_ssize_t d, bint dense,
                      bint with_partial, dtype) except -1:
        """Make the batch buffers hold batches of B rows (gathered of them
        copied into a row buffer) of d features; reuses the current ones when
        they are large enough.  with_partial: also per-block shares of dW
        where they pay (see _forward_dense, _forward_csr)."""
        cdef Py_ssize_t K = self.c.n_outputs, n_blocks = (B + RB - 1) // RB
        cdef Py_ssize_t vl = 32 // np.dtype(dtype).itemsize
        # few outputs: skce's own products (dense.c), rows padded to whole vectors
        small_k = dense and K <= min(small_k_max, 3 * vl)
        key = (d, small_k, np.dtype(dtype))
        # per-block shares of dW: dense only with skce's products; they cost
        # 1/RB of the product itself; when they stay small (sized by this
        # call's batches: which path runs must not depend on earlier calls)
        cdef Py_ssize_t n_partial = n_blocks * d * K
        if key != self._key or B > self._rows or gathered > self._gathered:
            if key == self._key:   # grow, never shrink: the larger pass comes back
                B = max(B, self._rows)
                gathered = max(gathered, self._gathered)
                n_blocks = (B + RB - 1) // RB
            index_target = self.y is not None
            ldz = (K + vl - 1) // vl * vl if small_k else K
            Xb = np.empty((gathered, d), dtype=dtype)
            Z = np.zeros(B * ldz, dtype=dtype)
            G = np.zeros(B * ldz, dtype=dtype)
            # W's rows, then b's: the bias row of the logits kernel
            Wp = np.zeros((d + 1) * ldz if small_k else 0, dtype=dtype)
            Yb = np.empty(0 if index_target else B * K, dtype=dtype)
            yb = np.empty(B if index_target else 0, dtype=np.int64)
            swb = np.empty(B)
            grad = np.zeros(d * K + K, dtype=dtype)
            block_loss = np.zeros(n_blocks)
            bad = np.empty(n_blocks, dtype=np.intp)
            rowb = np.empty(B, dtype=np.int64)
            self._buffers = (Xb, Z, G, Yb, yb, swb, grad, block_loss, bad, Wp, rowb)
            self._key, self._rows, self._gathered = key, B, gathered
            if self._partial is not None and self._partial.dtype != np.dtype(dtype):
                self._partial = None
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
            self.w.rowb = <int64_t *>_data(rowb)
        self._buffers[8].fill(-1)   # no bad target seen
        self.w.partial = NULL
        if with_partial and (small_k or not dense) and n_partial <= partial_max \
                and not self.c.lazy:
            if self._partial is None or self._partial.shape[0] < n_partial:
                self._partial = np.empty(n_partial, dtype=dtype)
            self.w.partial = _data(self._partial)
        return 0

    cdef int _reserve_lazy(self, Py_ssize_t d, Py_ssize_t steps) except -1:
        """The lazy-update buffers for d features and passes of up to `steps`
        steps (kept across passes: pending carries over epochs)."""
        cur = self._lazy_buffers
        if cur is None or cur[0].shape[0] != d or cur[4].shape[1] < steps + 1:
            if cur is not None and cur[0].shape[0] == d:
                pos, last, pending, touched = cur[:4]
                bits = cur[5]
            else:
                pos = np.empty(d, dtype=np.int64)
                last = np.zeros(d, dtype=np.int64)
                pending = np.full(d, self.c.step, dtype=np.int64)
                touched = np.empty(d, dtype=np.int64)
                bits = np.zeros(d // 64 + 1, dtype=np.uint64)
            hist = np.zeros((4, steps + 1))
            self._lazy_buffers = (pos, last, pending, touched, hist, bits)
            self.w.bits = <uint64_t *>_data(bits)
            self.w.pos = <int64_t *>_data(pos)
            self.w.last = <int64_t *>_data(last)
            self.w.pending = <int64_t *>_data(pending)
            self.w.touched = <int64_t *>_data(touched)
            self.w.hist.S = <double *>_data(hist[0])
            self.w.hist.U = <double *>_data(hist[1])
            self.w.hist.QS = <double *>_data(hist[2])
            self.w.hist.QSU = <double *>_data(hist[3])
        skce_lazy_history_reset(&self.w.hist, 0)
        self.c.t_epoch = 0
        return 0


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
    w.rowb[k] = row


cdef inline double _loss_rows(const Config *s, Py_ssize_t r0, Py_ssize_t r1, const floating *Z,
                              Py_ssize_t ldz, const Work *w, double grad_scale,
                              Py_ssize_t *bad) noexcept nogil:
    """Weighted loss of batch rows [r0, r1) and their gradient (times
    grad_scale) into w.G (Z and G with row stride ldz).  SVRG (w.Gs): minus
    the rows' G at the snapshot, so that what follows (dW = X_bᵀ G, db)
    forms g_B(theta) - g_B(snapshot) in one product."""
    cdef double value
    cdef Py_ssize_t k, c, K = s.n_outputs
    cdef floating *G = <floating *>w.G
    cdef const floating *Gs = <const floating *>w.Gs
    cdef floating f
    if floating is double:
        value = skce_loss_rows_f64(&s.loss, r0, r1, Z, ldz, w.yb, <const double *>w.Yb, w.swb,
                                   grad_scale, <double *>w.G, bad)
    else:
        value = skce_loss_rows_f32(&s.loss, r0, r1, Z, ldz, w.yb, <const float *>w.Yb, w.swb,
                                   grad_scale, <float *>w.G, bad)
    if Gs != NULL:
        f = <floating>(grad_scale * s.snapshot_scale)
        for k in range(r0, r1):
            for c in range(K):
                G[k * ldz + c] -= f * Gs[w.rowb[k] * K + c]
    return value


cdef inline void _gemm(char *ta, char *tb, int m, int n, int k, floating alpha,
                       const floating *a, int lda, const floating *b, int ldb, floating beta,
                       floating *c, int ldc) noexcept nogil:
    """Column-major BLAS gemm: c = alpha * op(a) op(b) + beta * c."""
    if floating is double:
        dgemm(ta, tb, &m, &n, &k, &alpha, <double *>a, &lda, <double *>b, &ldb, &beta, c, &ldc)
    else:
        sgemm(ta, tb, &m, &n, &k, &alpha, <float *>a, &lda, <float *>b, &ldb, &beta, c, &ldc)


cdef inline void _step_chunk(const Config *s, Py_ssize_t n, const skce_optim_options *o,
                             const Params *pp, Py_ssize_t p0, const floating *grad) noexcept nogil:
    """The optimizer step on theta[p0:p0+n], then (averaging) the running mean."""
    cdef floating *theta = <floating *>pp.theta + p0
    cdef floating *avg = <floating *>pp.avg
    if floating is double:
        skce_optimizer_step_f64(s.optimizer, n, o, theta, grad + p0, <double *>pp.st1 + p0,
                                <double *>pp.st2 + p0, <double *>pp.st3 + p0)
        if avg != NULL:
            skce_running_mean_f64(n, s.n_averaged, avg + p0, theta)
    else:
        skce_optimizer_step_f32(s.optimizer, n, o, theta, grad + p0, <float *>pp.st1 + p0,
                                <float *>pp.st2 + p0, <float *>pp.st3 + p0)
        if avg != NULL:
            skce_running_mean_f32(n, s.n_averaged, avg + p0, theta)


cdef inline skce_optim_options _next_step(Config *s, const Params *pp) noexcept nogil:
    """Counts a step (s.step, with averaging s.n_averaged) and returns its
    options (learning rate from the schedule)."""
    cdef skce_optim_options o = s.optim
    s.step += 1
    skce_optim_at_step(&o, s.step,
                       skce_learning_rate(s.schedule, s.eta, s.power_t, s.total_steps, s.step))
    if pp.avg != NULL:
        s.n_averaged += 1
    return o


cdef void _optimizer_step(Config *s, Py_ssize_t P, const Params *pp,
                          const floating *grad) noexcept nogil:
    """One step (s.step += 1) on W = theta[:P] (regularized), in fixed
    parameter chunks, then on b = theta[P:] (not); when averaging, theta is
    folded into the epoch's running mean."""
    cdef skce_optim_options o = _next_step(s, pp)
    cdef Py_ssize_t n_chunks = (P + PC - 1) // PC
    cdef Py_ssize_t c, p0
    for c in prange(n_chunks, num_threads=_threads_for(<double>P * 8, s.n_threads),
                    schedule="static"):
        p0 = c * PC
        _step_chunk(s, min(PC, P - p0), &o, pp, p0, grad)
    _intercept_step(s, P, pp, grad, o)


cdef void _lazy_catch_up(const Config *s, Py_ssize_t n_rows, const int64_t *rows,
                         const Params *pp, const Work *w, floating kind) noexcept nogil:
    """Brings weight rows rows[:n_rows] (rows NULL: rows 0 .. n_rows - 1) to
    epoch step s.t_epoch, in fixed chunks of rows (skce_lazy_catch_up)."""
    cdef Py_ssize_t K = s.n_outputs, n_chunks = (n_rows + LC - 1) // LC, c, r0, off
    cdef floating *theta = <floating *>pp.theta
    cdef floating *avg = <floating *>pp.avg
    if not s.lazy_exact:
        return   # lazy variant: untouched rows do not change (their A neither)
    for c in prange(n_chunks, num_threads=_threads_for(<double>n_rows * K * 4, s.n_threads),
                    schedule="static"):
        r0 = c * LC
        # all rows: the chunk's rows are rows r0.. of W; else rows[r0..] index W
        off = r0 if rows == NULL else 0
        if floating is double:
            skce_lazy_catch_up_f64(min(LC, n_rows - r0), NULL if rows == NULL else rows + r0,
                                   K, &w.hist, s.t_epoch, w.last + off, theta + off * K,
                                   NULL if avg == NULL else avg + off * K)
        else:
            skce_lazy_catch_up_f32(min(LC, n_rows - r0), NULL if rows == NULL else rows + r0,
                                   K, &w.hist, s.t_epoch, w.last + off, theta + off * K,
                                   NULL if avg == NULL else avg + off * K)


cdef void _lazy_optimizer_step(Config *s, Py_ssize_t P, Py_ssize_t d, const Params *pp,
                               floating *grad, Work *w) noexcept nogil:
    """_optimizer_step for a CSR batch: the step on the touched weight rows
    (their gradient in grad's first n_touched rows, zeroed as they are read),
    the others' deferred (src/solver/skce_solver.h, "Lazy updates"), then the
    intercept."""
    cdef skce_optim_options o = _next_step(s, pp)
    cdef Py_ssize_t K = s.n_outputs, m = w.n_touched, n_chunks = (m + LC - 1) // LC, c, r0
    cdef int64_t t
    cdef double avg_qs = -1.0
    s.t_epoch += 1
    t = s.t_epoch
    if not s.lazy_exact and pp.avg != NULL:
        # the variant's average as A + QS W (skce_solver.h): no catch-up
        avg_qs = <double>(t - 1)
        if t == 1:
            memset(pp.avg, 0, P * sizeof(floating))
    if s.lazy_exact:
        skce_lazy_history_append(&w.hist, t, 1.0 - o.lr * o.weight_decay, o.lr * o.l1)
    else:
        skce_lazy_history_append(&w.hist, t, 1.0, 0.0)
    for c in prange(n_chunks, num_threads=_threads_for(<double>m * K * 8, s.n_threads),
                    schedule="static"):
        r0 = c * LC
        if floating is double:
            skce_lazy_step_f64(s.optimizer, min(LC, m - r0), w.touched + r0, K, &o,
                               NULL if s.lazy_exact else w.pending, t,
                               w.last if s.lazy_exact else NULL,
                               <double *>pp.theta, grad + r0 * K, <double *>pp.st1,
                               <double *>pp.st2, <double *>pp.st3, <double *>pp.avg, avg_qs)
        else:
            skce_lazy_step_f32(s.optimizer, min(LC, m - r0), w.touched + r0, K, &o,
                               NULL if s.lazy_exact else w.pending, t,
                               w.last if s.lazy_exact else NULL,
                               <float *>pp.theta, grad + r0 * K, <float *>pp.st1,
                               <float *>pp.st2, <float *>pp.st3, <float *>pp.avg, avg_qs)
    _intercept_step(s, P, pp, grad, o)
    if w.hist.S[t] < LAZY_RESTART:   # every row to step t, the history restarts there
        _lazy_catch_up(s, d, NULL, pp, w, <floating>0)
        skce_lazy_history_reset(&w.hist, t)


cdef void _intercept_step(Config *s, Py_ssize_t P, const Params *pp, const floating *grad,
                          skce_optim_options o) noexcept nogil:
    """The step on b = theta[P:] (not regularized), or with averaging and no
    intercept its running mean."""
    if s.fit_intercept:
        o.weight_decay = 0.0
        o.l1 = 0.0
        o.decoupled = 0
        _step_chunk(s, s.n_outputs, &o, pp, P, grad)
    elif pp.avg != NULL:
        if floating is double:
            skce_running_mean_f64(s.n_outputs, s.n_averaged, <double *>pp.avg + P,
                                  <double *>pp.theta + P)
        else:
            skce_running_mean_f32(s.n_outputs, s.n_averaged, <float *>pp.avg + P,
                                  <float *>pp.theta + P)


cdef void _add_snapshot_gradient(const Config *cfg, Py_ssize_t P, const Work *w,
                                 floating *grad) noexcept nogil:
    """SVRG: grad += the snapshot's full loss gradient w.mu (the intercept's
    part only with fit_intercept: grad[P:] holds no gradient otherwise)."""
    cdef const floating *mu = <const floating *>w.mu
    cdef Py_ssize_t n = P + (cfg.n_outputs if cfg.fit_intercept else 0)
    cdef Py_ssize_t n_chunks = (n + PC - 1) // PC
    cdef Py_ssize_t ch, p, p0
    for ch in prange(n_chunks, num_threads=_threads_for(<double>n, cfg.n_threads),
                     schedule="static"):
        p0 = ch * PC
        for p in range(p0, min(p0 + PC, n)):
            grad[p] += mu[p]


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
    cdef Py_ssize_t ch, p0
    for ch in prange(n_chunks, num_threads=_threads_for(<double>n_blocks * P, n_threads),
                     schedule="static"):
        p0 = ch * PC
        if floating is double:
            skce_sum_partials_f64(n_blocks, P, p0, min(p0 + PC, P), partial, grad)
        else:
            skce_sum_partials_f32(n_blocks, P, p0, min(p0 + PC, P), partial, grad)


cdef inline void _csr_logits(const Source *src, Py_ssize_t n, const int64_t *order,
                             Py_ssize_t K, const floating *theta, floating *Z) noexcept nogil:
    """Z (n x K) = X[order[:n]] W + b for CSR X (W = theta[:d K], b after it)."""
    if floating is double:
        skce_csr_logits_f64(&src.sparse, n, order, K, theta, theta + src.d * K, Z)
    else:
        skce_csr_logits_f32(&src.sparse, n, order, K, theta, theta + src.d * K, Z)


cdef inline void _csr_scaled_logits(const Source *src, Py_ssize_t n, const int64_t *order,
                                    Py_ssize_t K, const floating *V, floating scale,
                                    floating *Z) noexcept nogil:
    """_csr_logits with W = scale V (lazy_scaled)."""
    if floating is double:
        skce_csr_scaled_logits_f64(&src.sparse, n, order, K, V, scale, V + src.d * K, Z)
    else:
        skce_csr_scaled_logits_f32(&src.sparse, n, order, K, V, scale, V + src.d * K, Z)


cdef void _scaled_step(Config *s, const Source *src, Py_ssize_t nb, const int64_t *order,
                       const Params *pp, const Work *w, const floating *grad) noexcept nogil:
    """The lazy_scaled step (plain SGD, no L1; src/solver/skce_solver.h): the
    decay 1 - lr wd goes into S, the rows of the batch's non-zeros move by
    -(lr / S) x G (and A by QS times that), serially in batch order; then
    the intercept.  Once S is small, every row is brought back to W and the
    history restarts at S = 1."""
    cdef skce_optim_options o = _next_step(s, pp)
    cdef Py_ssize_t K = s.n_outputs, P = src.d * K
    cdef floating *V = <floating *>pp.theta
    cdef floating *A = <floating *>pp.avg
    cdef const floating *G = <const floating *>w.G
    cdef double cv, ca
    s.t_epoch += 1
    cdef int64_t t = s.t_epoch
    if t == 1 and A != NULL:
        memset(A, 0, P * sizeof(floating))   # the sum of no steps
    skce_lazy_history_append(&w.hist, t, 1.0 - o.lr * o.weight_decay, 0.0)
    cv = -o.lr / w.hist.S[t]
    ca = -w.hist.QS[t - 1] * cv
    if floating is double:
        skce_csr_scaled_step_f64(&src.sparse, nb, order, K, G, cv, ca, V, A)
    else:
        skce_csr_scaled_step_f32(&src.sparse, nb, order, K, G, cv, ca, V, A)
    _intercept_step(s, P, pp, grad, o)
    if w.hist.S[t] < LAZY_RESTART:
        _unscale(s, P, pp, w, 1.0, <floating>0)
        skce_lazy_history_reset(&w.hist, t)


cdef void _unscale(const Config *s, Py_ssize_t P, const Params *pp, const Work *w,
                   double inv_t, floating kind) noexcept nogil:
    """lazy_scaled: theta[:P] = S V and, averaging, avg[:P] = (A + QS V) inv_t
    (skce_lazy_unscale), in fixed chunks."""
    cdef double S = w.hist.S[s.t_epoch], QS = w.hist.QS[s.t_epoch]
    cdef floating *V = <floating *>pp.theta
    cdef floating *A = <floating *>pp.avg
    cdef Py_ssize_t n_chunks = (P + PC - 1) // PC, c, p0
    for c in prange(n_chunks, num_threads=_threads_for(<double>P * 4, s.n_threads),
                    schedule="static"):
        p0 = c * PC
        if floating is double:
            skce_lazy_unscale_f64(min(PC, P - p0), S, QS, inv_t, V + p0,
                                  NULL if A == NULL else A + p0)
        else:
            skce_lazy_unscale_f32(min(PC, P - p0), S, QS, inv_t, V + p0,
                                  NULL if A == NULL else A + p0)


cdef inline void _csr_weight_grad(const Source *src, Py_ssize_t n, const int64_t *order,
                                  Py_ssize_t K, const floating *G, floating *D) noexcept nogil:
    """D (d x K) = X[order[:n]]ᵀ G for CSR X, scattered in row order."""
    if floating is double:
        skce_csr_weight_grad_f64(&src.sparse, n, order, src.d, K, G, D)
    else:
        skce_csr_weight_grad_f32(&src.sparse, n, order, src.d, K, G, D)


cdef inline Py_ssize_t _csr_touched(const Source *src, Py_ssize_t n, const int64_t *order,
                                    const Work *w) noexcept nogil:
    """The features of rows X[order[:n]] into w.touched (see skce_csr_touched)."""
    return skce_csr_touched(&src.sparse, n, order, w.bits, w.pos, w.touched)


cdef inline void _csr_weight_grad_compact(const Source *src, Py_ssize_t n,
                                          const int64_t *order, Py_ssize_t K, const Work *w,
                                          floating *D) noexcept nogil:
    """D (n_touched x K, zero on entry) = the touched rows of X[order[:n]]ᵀ G,
    in batch order."""
    if floating is double:
        skce_csr_weight_grad_compact_f64(&src.sparse, n, order, K,
                                         <const double *>w.G, w.pos, D)
    else:
        skce_csr_weight_grad_compact_f32(&src.sparse, n, order, K,
                                         <const float *>w.G, w.pos, D)


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


cdef int _forward_dense(const Config *cfg, const Source *src, const int64_t *order,
                        Py_ssize_t nb, Py_ssize_t n_ahead, const floating *theta,
                        const Work *w, double *total, double *weight, Py_ssize_t *info,
                        const floating **A, Py_ssize_t *lda, floating *partial) noexcept nogil:
    """The loss of batch rows X[order[:nb]] under parameters theta, added to
    *total (row weights to *weight); dloss/dZ is left in w.G and the batch's
    rows in the matrix *A (leading dimension *lda): w.Xb, or X itself (rows
    read in place, nothing gathered).  order has n_ahead entries (the rows
    after the batch are prefetched).  Returns a status (see _batch_loss).
    With `partial` (n_blocks x d K, skce's own products only), each block
    also computes its share of dW = Aᵀ G on the thread that gathered its
    rows, while they are in its cache (a split by features made each thread
    read the other's rows: 2 threads were slower than 1 there); returns
    _PARTIAL_GRAD then."""
    cdef Py_ssize_t d = src.d, rs = src.rs, cs = src.cs
    cdef Py_ssize_t K = cfg.n_outputs, P = d * K
    cdef Py_ssize_t n_blocks = (nb + RB - 1) // RB
    cdef Py_ssize_t blk, r0, r1, k, c
    cdef int64_t row
    cdef int threads = _threads_for(<double>nb * (d + 1) * K, cfg.n_threads)
    cdef double grad_scale = cfg.loss_scale / (nb * cfg.weight_scale)
    cdef int status
    cdef const floating *X = <const floating *>src.X
    cdef floating *Xb = <floating *>w.Xb
    cdef floating *Z = <floating *>w.Z
    cdef Py_ssize_t ldz = w.ldz
    cdef floating *Wp = <floating *>w.Wp
    cdef const floating *Ab
    A[0] = X + order[0] * rs if src.in_place else Xb
    lda[0] = rs if src.in_place else d
    Ab = A[0]
    if Wp != NULL:   # theta = [W.ravel(), b]: d + 1 rows of K
        if floating is double:
            skce_pad_columns_f64(d + 1, K, theta, Wp)
        else:
            skce_pad_columns_f32(d + 1, K, theta, Wp)
    for blk in prange(n_blocks, num_threads=threads, schedule="static"):
        r0 = blk * RB
        r1 = min(r0 + RB, nb)
        if src.in_place:
            pass
        elif floating is double:
            skce_gather_rows_f64(r1 - r0, n_ahead - r0, order + r0, X, rs, cs, d, Xb + r0 * d)
        else:
            skce_gather_rows_f32(r1 - r0, n_ahead - r0, order + r0, X, rs, cs, d, Xb + r0 * d)
        for k in range(r0, r1):
            row = order[k]
            if Wp == NULL:
                for c in range(K):
                    Z[k * ldz + c] = theta[P + c]
            _gather_targets(cfg, k, row, w, <floating *>w.Yb)
        if Wp == NULL:
            continue
        # skce's products: the whole batch step for the block's rows while
        # they are in this thread's cache: Z = Xb W + b, the loss and G, and
        # the block's share of dW
        if floating is double:
            skce_small_k_logits_f64(r1 - r0, d, K, Ab + r0 * lda[0], lda[0], Wp, Wp + d * ldz,
                                    Z + r0 * ldz)
        else:
            skce_small_k_logits_f32(r1 - r0, d, K, Ab + r0 * lda[0], lda[0], Wp, Wp + d * ldz,
                                    Z + r0 * ldz)
        w.block_loss[blk] = _loss_rows(cfg, r0, r1, Z, ldz, w, grad_scale, &w.bad[blk])
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
            w.block_loss[blk] = _loss_rows(cfg, r0, r1, Z, ldz, w, grad_scale, &w.bad[blk])
    status = _batch_loss(n_blocks, w, order, nb, total, weight, info)
    if status == _OK and partial != NULL:
        return _PARTIAL_GRAD
    return status


cdef int _forward_csr(const Config *cfg, const Source *src, const int64_t *order,
                      Py_ssize_t nb, const floating *theta, const Work *w, double *total,
                      double *weight, Py_ssize_t *info, floating *partial) noexcept nogil:
    """_forward_dense for a CSR matrix; no row buffer.  With `partial`
    (n_blocks x d K), also each block's share of dW = Xbᵀ G, scattered while
    the block's rows are in cache; returns _PARTIAL_GRAD then, or scatters
    nothing when it is cheaper to do serially afterwards."""
    cdef Py_ssize_t K = cfg.n_outputs, P = src.d * K
    cdef Py_ssize_t n_blocks = (nb + RB - 1) // RB
    cdef Py_ssize_t blk, r0, r1, k, nnz = skce_csr_batch_nnz(&src.sparse, nb, order)
    cdef int threads, status
    cdef double grad_scale = cfg.loss_scale / (nb * cfg.weight_scale)
    threads = _threads_for(<double>(nnz + nb) * K, cfg.n_threads)
    # zeroing the block partials costs n_blocks d K: worth it only when the
    # scatter itself (nnz K) is at least as much work
    if partial != NULL and n_blocks * P > nnz * K:
        partial = NULL
    for blk in prange(n_blocks, num_threads=threads, schedule="static"):
        r0 = blk * RB
        r1 = min(r0 + RB, nb)
        if cfg.lazy_scaled:
            _csr_scaled_logits(src, r1 - r0, order + r0, K, theta,
                               <floating>w.hist.S[cfg.t_epoch], <floating *>w.Z + r0 * K)
        else:
            _csr_logits(src, r1 - r0, order + r0, K, theta, <floating *>w.Z + r0 * K)
        for k in range(r0, r1):
            _gather_targets(cfg, k, order[k], w, <floating *>w.Yb)
        w.block_loss[blk] = _loss_rows(cfg, r0, r1, <floating *>w.Z, K, w, grad_scale,
                                       &w.bad[blk])
        if partial != NULL:
            _csr_weight_grad(src, r1 - r0, order + r0, K, <const floating *>w.G + r0 * K,
                             partial + blk * P)
    status = _batch_loss(n_blocks, w, order, nb, total, weight, info)
    if status == _OK and partial != NULL:
        return _PARTIAL_GRAD
    return status


cdef int _batches(Config *cfg, const Source *src, Work *w, const Params *pp,
                  const int64_t *order, Py_ssize_t n, Py_ssize_t B, bint train,
                  const floating *model, double *total, double *weight,
                  Py_ssize_t *info, _Signals signals) noexcept nogil:
    """The one minibatch loop: for each batch of B rows of order[:n], the
    forward pass (loss, G) and, when training, dW, db and the optimizer
    step.  Returns a status (see _batch_loss; info = the batch's position in
    order for _NONFINITE; _INTERRUPTED when a signal handler raised between
    batches, its exception in signals.pending).  With cfg.lazy (CSR
    training), each step reads and updates only the weight rows the batch
    touches, first bringing them up to date (the caller catches up the rest
    at the end)."""
    cdef Py_ssize_t K = cfg.n_outputs, P = src.d * K
    cdef Py_ssize_t start = 0, nb
    cdef int status = _OK
    cdef floating *grad = <floating *>w.grad
    cdef floating *partial = <floating *>w.partial
    cdef const floating *A = NULL
    cdef Py_ssize_t lda = 0
    while start < n:
        if start and signals.raised():
            return _INTERRUPTED
        nb = min(B, n - start)
        if cfg.lazy:
            if not cfg.lazy_scaled:
                w.n_touched = _csr_touched(src, nb, order + start, w)
                _lazy_catch_up(cfg, w.n_touched, w.touched, pp, w, <floating>0)
            status = _forward_csr(cfg, src, order + start, nb, model, w, total, weight, info,
                                  NULL)
        elif src.csr:
            status = _forward_csr(cfg, src, order + start, nb, model, w, total, weight, info,
                                  partial)
        else:
            status = _forward_dense(cfg, src, order + start, nb, n - start, model, w, total,
                                    weight, info, &A, &lda, partial)
        if status == _PARTIAL_GRAD:
            status = _OK
            _sum_partials((nb + RB - 1) // RB, P, partial, grad, cfg.n_threads)
        elif status != _OK:
            if status == _NONFINITE:
                info[0] = start
            return status
        elif not train:
            start += nb
            continue
        elif cfg.lazy_scaled:
            pass   # the step scatters from G itself
        elif cfg.lazy:   # the touched rows of dW, compact
            _csr_weight_grad_compact(src, nb, order + start, K, w, grad)
        elif src.csr:   # dW = Xbᵀ G by scatter in batch order (serial: deterministic)
            _csr_weight_grad(src, nb, order + start, K, <const floating *>w.G, grad)
        else:
            _weight_grad_dense(cfg, nb, src.d, A, lda, w, grad)
        if cfg.fit_intercept:
            if floating is double:
                skce_column_sums_f64(nb, K, <const double *>w.G, w.ldz, grad + P)
            else:
                skce_column_sums_f32(nb, K, <const float *>w.G, w.ldz, grad + P)
        if w.mu != NULL:
            _add_snapshot_gradient(cfg, P, w, grad)
        if cfg.lazy_scaled:
            _scaled_step(cfg, src, nb, order + start, pp, w, grad)
        elif cfg.lazy:
            _lazy_optimizer_step(cfg, P, src.d, pp, grad, w)
        else:
            _optimizer_step(cfg, P, pp, grad)
        start += nb
    return status


cdef tuple _epoch(EpochSettings s, Source *src, const int64_t[::1] order,
                  Py_ssize_t batch_size, bint train, bint lazy, floating kind):
    """Runs _batches for s over src (`kind` only selects the dtype)."""
    cdef Py_ssize_t n = order.shape[0]
    cdef Py_ssize_t B = max(1, min(batch_size, n))
    cdef double total = 0.0, weight = 0.0
    cdef Py_ssize_t info = -1
    cdef int status
    dtype = np.float64 if floating is double else np.float32
    s._check(src.d, dtype)
    # SVRG's mean gradient is dense: its steps move every row (eager path)
    s.c.lazy = src.csr and train and (lazy if lazy_csr < 0 else lazy_csr == 1) \
        and s.w.mu == NULL
    s.c.lazy_scaled = s.c.lazy and s.c.lazy_exact and s.c.optim.l1 == 0.0
    if s.c.lazy:
        s._reserve_lazy(src.d, (n + B - 1) // B)
    s._reserve(0 if src.csr or src.in_place else B, B, src.d, not src.csr, train, dtype)
    if s.c.lazy and not s.c.lazy_scaled:
        # the compact gradient accumulates into zeroed rows; the lazy steps
        # zero them again as they read them
        memset(s.w.grad, 0, src.d * s.c.n_outputs * sizeof(floating))
    cdef const floating *model = <const floating *>(
        s.p.theta if train or s.p.avg == NULL else s.p.avg)
    cdef _Signals signals = _Signals()
    with nogil:
        status = _batches(&s.c, src, &s.w, &s.p, &order[0] if n else NULL, n, B, train, model,
                          &total, &weight, &info, signals)
        # the model whole again: W = S V and avg the mean of the pass's steps
        # (scaled; the variant's A + QS W with S = 1), else every row caught
        # up to the pass's last step (the variant's weights are: a no-op)
        if s.c.lazy_scaled or (s.c.lazy and not s.c.lazy_exact and s.p.avg != NULL):
            _unscale(&s.c, src.d * s.c.n_outputs, &s.p, &s.w,
                     1.0 / s.c.t_epoch if s.c.t_epoch else 1.0, <floating>0)
        elif s.c.lazy:
            _lazy_catch_up(&s.c, src.d, NULL, &s.p, &s.w, <floating>0)
        if s.c.lazy and not s.c.lazy_scaled:
            memset(s.w.last, 0, src.d * sizeof(int64_t))
        s.c.lazy = s.c.lazy_scaled = False
    return total * s.c.loss_scale, weight, status, \
        signals.pending if status == _INTERRUPTED else info


def epoch_dense(EpochSettings s, const floating[:, :] X, const int64_t[::1] order,
                Py_ssize_t batch_size, bint train=True):
    """One epoch over the rows X[order] in minibatches of batch_size.

    `s` (an EpochSettings) gives the settings, the targets (s.y class
    indices or s.Y rows), s.sample_weight and the flat parameter and
    optimizer-state arrays, updated in place; s.step counts the steps; with
    s.average, s.average becomes the mean of theta after each of the
    s.n_averaged steps so far.  train=False takes no step: it only sums the
    losses of the model (s.average when averaging, else s.theta).
    Returns (sum of the weighted row losses times the loss's scale, sum of
    the row weights, status, info): status OK; NONFINITE when a batch loss
    was not finite (the epoch stopped before that step; info = position of
    the batch in order); BAD_TARGET when a target is out of range (info =
    row); INTERRUPTED when a signal handler raised between batches (Ctrl-C;
    info = the exception, for the caller to raise once it restored its state).
    """
    cdef Py_ssize_t n = order.shape[0], k = 1
    cdef Source src
    src.csr = False
    src.d = X.shape[1]
    src.X = &X[0, 0] if n and src.d else NULL
    src.rs = X.strides[0] // sizeof(floating)
    src.cs = X.strides[1] // sizeof(floating)
    # consecutive rows of a C-ordered X (the evaluation pass, shuffle=False)
    # are a matrix already: the products read them in place, no row buffer
    src.in_place = src.d > 0 and src.cs == 1 and src.rs >= src.d
    s._check_rows(X.shape[0])
    while src.in_place and k < n:
        src.in_place = order[k] == order[k - 1] + 1
        k += 1
    return _epoch(s, &src, order, batch_size, train, False, <floating>0)


def epoch_csr(EpochSettings s, const floating[::1] data, indices, indptr,
              Py_ssize_t n_features, const int64_t[::1] order, Py_ssize_t batch_size,
              bint train=True, bint lazy=True):
    """epoch_dense for a CSR matrix given by (data, indices, indptr), both
    index arrays int32 or both int64; lazy: lazy updates (where the solver
    allows them) unless _set_lazy_csr forces a choice."""
    cdef Source src
    _csr_source(&src, n_features, &data[0] if data.shape[0] else NULL, indices, indptr)
    s._check_rows(indptr.shape[0] - 1)
    return _epoch(s, &src, order, batch_size, train, lazy, <floating>0)


def optimizer_step(EpochSettings s, floating[::1] grad):
    """One optimizer step of s (settings and state, as for epoch_dense) with
    the given flat gradient: the same code path as training, for tests
    against torch.optim."""
    cdef Py_ssize_t K = s.c.n_outputs
    cdef Py_ssize_t P = grad.shape[0] - K
    s._check(P // K if K else 0, np.float64 if floating is double else np.float32)
    with nogil:
        _optimizer_step(&s.c, P, &s.p, &grad[0])


# -- products of the full-batch objective (skce._solver._objective) ----------
# Rows per block of small_k_pass (its products run while they are in cache)
# and blocks per round of partial sums: fixed, never derived from n_threads.
cdef Py_ssize_t PASS_ROWS = 256
cdef Py_ssize_t PASS_BLOCKS = 8
cdef Py_ssize_t PASS_MAX_OUTPUTS = 64


def small_k_pass_applies(Py_ssize_t n_features, Py_ssize_t n_outputs, dtype):
    """Whether `small_k_pass` serves the full-batch objective: up to
    PASS_MAX_OUTPUTS outputs (measured on 50,000 x 100: as fast as BLAS
    at 100 outputs on one thread, 1.3x faster at 26, 1.9x at 10) and
    PASS_BLOCKS shares of X^T G of at most 32 MB."""
    return (n_outputs <= PASS_MAX_OUTPUTS and
            PASS_BLOCKS * n_features * n_outputs * np.dtype(dtype).itemsize <= 32 * 2**20)


cdef Py_ssize_t _row_stride(const char *what, Py_ssize_t s0, Py_ssize_t s1,
                            Py_ssize_t item) except -1:
    if s1 != item or s0 % item:
        raise ValueError(f"{what} needs rows of unit column stride")
    return s0 // item


def small_k_pass(const floating[:, :] X, const floating[:, ::1] Wp, const floating[::1] bp,
                 spec, const int64_t[::1] y, const floating[:, ::1] Y,
                 const double[::1] sw, double grad_scale, double[::1] grad,
                 floating[:, ::1] row_grad, int n_threads, double[:, ::1] moments=None):
    """One pass of the full-batch objective over dense X with few outputs:
    the weighted sum of the row losses at Z = X W + b (returned with the
    first row of an out-of-range target, or -1), and, when grad is given
    (float64, d K + K), the loss gradient times grad_scale added to it: W's
    part [X^T G].ravel(), then the column sums of G.  row_grad (n x K, or
    None): G itself.  X is read once: each block of PASS_ROWS rows does its
    logits, loss and share of X^T G while in cache (the minibatch epoch's
    kernels); the shares are added in block order, so threads do not change
    the bits.  spec: a LossSpec (kind, n_outputs, label_smoothing, margin,
    delta, squared, crammer_singer); Wp (d x Kp), bp (Kp): W and b in X's
    dtype, columns zero-padded to whole SIMD vectors.  moments (2 x d, or
    None): overwritten with X's weighted column sums and squares, the rows
    weighted by sw (`dense_column_moments`, the same bits), while each block
    is in cache."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], Kp = Wp.shape[1]
    cdef Py_ssize_t K = spec.n_outputs, P = d * K
    if bp.shape[0] != Kp or Kp < K or Kp % (32 // sizeof(floating)) or Wp.shape[0] != d:
        raise ValueError("small_k_pass: Wp and bp need K columns padded to whole vectors")
    cdef Py_ssize_t lda = _row_stride("small_k_pass", X.strides[0], X.strides[1],
                                      sizeof(floating)) if n else 0
    cdef skce_loss_spec ls = _c_loss_spec(spec)
    cdef bint with_grad = grad is not None, with_rows = row_grad is not None
    cdef bint with_b = with_grad and grad.shape[0] >= P + K
    cdef int threads = _threads_for(<double>min(n, PASS_ROWS * PASS_BLOCKS) * (d + 1) * K,
                                    n_threads)
    dtype = np.float64 if floating is double else np.float32
    cdef floating[:, ::1] Z = np.zeros((PASS_BLOCKS * PASS_ROWS, Kp), dtype=dtype)
    cdef floating[:, ::1] G = np.zeros((PASS_BLOCKS * PASS_ROWS, Kp), dtype=dtype)
    cdef floating[:, ::1] part = np.empty((PASS_BLOCKS, max(P, 1)), dtype=dtype)
    cdef double[:, ::1] part_b = np.zeros((PASS_BLOCKS, K))   # the blocks' column sums of G
    cdef bint with_moments = moments is not None
    if with_moments and (moments.shape[0] != 2 or moments.shape[1] != d):
        raise ValueError("small_k_pass: moments must be 2 x n_features")
    cdef double[:, ::1] part_m = np.zeros((PASS_BLOCKS, 2 * d if with_moments else 0))
    if with_moments:
        moments[:, :] = 0.0
    cdef double[::1] block_loss = np.zeros(PASS_BLOCKS)
    cdef Py_ssize_t[::1] bad = np.full(PASS_BLOCKS, -1, dtype=np.intp)
    cdef const int64_t *yp = &y[0] if y is not None and n else NULL
    cdef const floating *Yp = &Y[0, 0] if Y is not None and n else NULL
    cdef const double *swp = &sw[0] if sw is not None and n else NULL
    cdef double total = 0.0, s
    cdef Py_ssize_t first_bad = -1, R0, nblk, blk, b2, r0, m, k, c, q, j0, j1, t
    cdef Py_ssize_t qgroups = (P + 7) // 8
    cdef floating *Zb
    cdef floating *Gb
    with nogil:
        R0 = 0
        while R0 < n:
            nblk = min(PASS_BLOCKS, (n - R0 + PASS_ROWS - 1) // PASS_ROWS)
            for blk in prange(nblk, num_threads=threads, schedule="static"):
                r0 = R0 + blk * PASS_ROWS
                m = min(PASS_ROWS, n - r0)
                Zb = &Z[blk * PASS_ROWS, 0]
                Gb = &G[blk * PASS_ROWS, 0]
                if floating is double:
                    skce_small_k_logits_f64(m, d, K, &X[r0, 0] if d > 0 else NULL, lda,
                                            &Wp[0, 0] if d > 0 else NULL, &bp[0], Zb)
                else:
                    skce_small_k_logits_f32(m, d, K, &X[r0, 0] if d > 0 else NULL, lda,
                                            &Wp[0, 0] if d > 0 else NULL, &bp[0], Zb)
                bad[blk] = -1
                if floating is double:
                    block_loss[blk] = skce_loss_rows_f64(
                        &ls, 0, m, Zb, Kp, yp + r0 if yp != NULL else NULL,
                        Yp + r0 * K if Yp != NULL else NULL,
                        swp + r0 if swp != NULL else NULL, grad_scale,
                        Gb if with_grad else NULL, &bad[blk])
                else:
                    block_loss[blk] = skce_loss_rows_f32(
                        &ls, 0, m, Zb, Kp, yp + r0 if yp != NULL else NULL,
                        Yp + r0 * K if Yp != NULL else NULL,
                        swp + r0 if swp != NULL else NULL, grad_scale,
                        Gb if with_grad else NULL, &bad[blk])
                if with_grad and d > 0:
                    if floating is double:
                        skce_small_k_weight_grad_f64(m, 0, d, K, &X[r0, 0], lda, Gb, &part[blk, 0])
                    else:
                        skce_small_k_weight_grad_f32(m, 0, d, K, &X[r0, 0], lda, Gb, &part[blk, 0])
                if with_b:
                    if floating is double:
                        skce_small_k_column_sums_f64(m, K, Gb, &part_b[blk, 0])
                    else:
                        skce_small_k_column_sums_f32(m, K, Gb, &part_b[blk, 0])
                if with_rows and with_grad:
                    for k in range(m):
                        for c in range(K):
                            row_grad[r0 + k, c] = Gb[k * Kp + c]
                if with_moments and d > 0:
                    _block_moments(m, d, &X[r0, 0], lda, swp + r0 if swp != NULL else NULL,
                                   &part_m[blk, 0])
            if with_moments and d > 0:
                _add_moments(nblk, d, part_m, moments)
            for b2 in range(nblk):   # in block order
                total += block_loss[b2]
                if first_bad < 0 and bad[b2] >= 0:
                    first_bad = R0 + b2 * PASS_ROWS + bad[b2]
            if with_grad:
                # the shares of X^T G, added in block order; threads split
                # the parameters
                for t in prange(threads, num_threads=threads, schedule="static"):
                    j0 = min(P, 8 * (t * qgroups // threads))
                    j1 = min(P, 8 * ((t + 1) * qgroups // threads))
                    for b2 in range(nblk):
                        for q in range(j0, j1):
                            grad[q] += part[b2, q]
                if with_b:
                    for b2 in range(nblk):
                        for c in range(K):
                            grad[P + c] += part_b[b2, c]
            R0 = R0 + nblk * PASS_ROWS
    return total, first_bad


cdef inline void _block_moments(Py_ssize_t m, Py_ssize_t d, const floating *A, Py_ssize_t lda,
                                const double *s, double *part) noexcept nogil:
    """part[:d] = sum_r s_r A[r], part[d:2d] = sum_r s_r A[r]^2 over m rows."""
    memset(part, 0, 2 * d * sizeof(double))
    if floating is double:
        skce_column_moments_f64(m, d, A, lda, s, part, part + d)
    else:
        skce_column_moments_f32(m, d, A, lda, s, part, part + d)


cdef inline void _add_moments(Py_ssize_t nblk, Py_ssize_t d, double[:, ::1] part,
                              double[:, ::1] moments) noexcept nogil:
    """moments (2 x d) += the blocks' shares, in block order."""
    cdef Py_ssize_t b2, j
    for b2 in range(nblk):
        for j in range(d):
            moments[0, j] += part[b2, j]
            moments[1, j] += part[b2, d + j]


def dense_column_moments(const floating[:, :] X, const double[::1] sw, int n_threads):
    """(sum_i s_i X[i], sum_i s_i X[i]^2) for dense X of unit column stride,
    float64 (2 x n_features): by blocks of PASS_ROWS rows on the threads,
    added in block order (the bits of `small_k_pass`'s moments; threads do
    not change them).  s_i = sw[i], 1 when sw is None."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t lda = _row_stride("dense_column_moments", X.strides[0], X.strides[1],
                                      sizeof(floating)) if n else 0
    cdef double[:, ::1] moments = np.zeros((2, d))
    cdef double[:, ::1] part = np.zeros((PASS_BLOCKS, 2 * d))
    cdef const double *swp = &sw[0] if sw is not None and n else NULL
    cdef int threads = _threads_for(<double>min(n, PASS_ROWS * PASS_BLOCKS) * d * 2, n_threads)
    cdef Py_ssize_t R0 = 0, nblk, blk, r0
    if d == 0:
        return np.asarray(moments)
    with nogil:
        while R0 < n:
            nblk = min(PASS_BLOCKS, (n - R0 + PASS_ROWS - 1) // PASS_ROWS)
            for blk in prange(nblk, num_threads=threads, schedule="static"):
                r0 = R0 + blk * PASS_ROWS
                _block_moments(min(PASS_ROWS, n - r0), d, &X[r0, 0], lda,
                               swp + r0 if swp != NULL else NULL, &part[blk, 0])
            _add_moments(nblk, d, part, moments)
            R0 = R0 + nblk * PASS_ROWS
    return np.asarray(moments)


# Row ranges of csr_pass (split by non-zeros), each with its own share of
# X^T G, and rows per block within a range: fixed, never derived from
# n_threads, so the bits do not depend on the thread count.
CSR_PASS_RANGES = 4
cdef Py_ssize_t CSR_PASS_ROWS = 256


def csr_pass_applies(Py_ssize_t n_features, Py_ssize_t n_outputs, dtype):
    """Whether `csr_pass` serves the full-batch objective: its
    CSR_PASS_RANGES shares of X^T G (outputs padded) take at most 64 MB."""
    cdef Py_ssize_t item = np.dtype(dtype).itemsize, vl = 32 // item
    return CSR_PASS_RANGES * n_features * ((n_outputs + vl - 1) // vl * vl) * item \
        <= 64 * 2**20


cdef inline void _csr_rows_logits(const Source *src, Py_ssize_t r0, Py_ssize_t r1,
                                  Py_ssize_t Kp, const floating *Wp, const floating *bp,
                                  floating *Z) noexcept nogil:
    """Z ((r1 - r0) x Kp) = X[r0:r1] Wp + bp for CSR X (skce_csr_rows_logits)."""
    if floating is double:
        skce_csr_rows_logits_f64(&src.sparse, r0, r1, Kp, Wp, bp, Z)
    else:
        skce_csr_rows_logits_f32(&src.sparse, r0, r1, Kp, Wp, bp, Z)


cdef inline void _csr_rows_weight_grad_add(const Source *src, Py_ssize_t r0, Py_ssize_t r1,
                                           Py_ssize_t Kp, const floating *G,
                                           floating *D) noexcept nogil:
    """D (d x Kp) += X[r0:r1]ᵀ G for CSR X (skce_csr_rows_weight_grad_add)."""
    if floating is double:
        skce_csr_rows_weight_grad_add_f64(&src.sparse, r0, r1, Kp, G, D)
    else:
        skce_csr_rows_weight_grad_add_f32(&src.sparse, r0, r1, Kp, G, D)


def csr_pass(const floating[::1] data, indices, indptr, const floating[:, ::1] Wp,
             const floating[::1] bp, spec, const int64_t[::1] y, const floating[:, ::1] Y,
             const double[::1] sw, double grad_scale, double[::1] grad,
             floating[:, ::1] part, floating[:, ::1] row_grad, int n_threads):
    """One pass of the full-batch objective over CSR X (data, indices,
    indptr: checked, int32 or int64 alike): as `small_k_pass`, the weighted
    sum of the row losses at Z = X W + b (returned with the first row of an
    out-of-range target, or -1) and, when grad is given, the loss gradient
    times grad_scale added to it ([X^T G].ravel(), then the column sums of
    G); row_grad (n x K, or None): G itself.  Wp (d x Kp), bp (Kp): W and b
    in X's dtype, columns zero-padded to whole SIMD vectors (one output: one
    column, unpadded).  part: CSR_PASS_RANGES x (d Kp) scratch for the ranges' shares of X^T G.  X is
    read once: each block of CSR_PASS_ROWS rows does its logits, loss and
    scatter into its range's share while in cache (scipy's products read X
    twice, on one thread)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = Wp.shape[0], Kp = Wp.shape[1]
    cdef Py_ssize_t K = spec.n_outputs, P = d * K, R = CSR_PASS_RANGES
    if bp.shape[0] != Kp or Kp < K or (Kp % (32 // sizeof(floating)) and Kp != 1):
        raise ValueError("csr_pass: Wp and bp need K columns padded to whole vectors "
                         "(or one column for one output)")
    cdef bint with_grad = grad is not None, with_rows = row_grad is not None
    cdef bint with_b = with_grad and grad.shape[0] >= P + K
    if with_grad and (part.shape[0] < R or part.shape[1] < d * Kp):
        raise ValueError("csr_pass: part must be CSR_PASS_RANGES x (d Kp)")
    cdef Source src
    _csr_source(&src, d, &data[0] if data.shape[0] else NULL, indices, indptr)
    cdef skce_loss_spec ls = _c_loss_spec(spec)
    # ranges of about equal numbers of non-zeros (a function of X alone)
    ip = np.asarray(indptr)
    nnz = int(ip[-1]) if n else 0
    cdef Py_ssize_t[::1] bounds = np.searchsorted(ip, np.linspace(0, nnz, R + 1)).astype(np.intp)
    bounds[0], bounds[R] = 0, n
    cdef int threads = min(_threads_for(2.0 * nnz * K, n_threads), R)
    dtype = np.float64 if floating is double else np.float32
    cdef floating[:, ::1] Z = np.empty((R, CSR_PASS_ROWS * Kp), dtype=dtype)
    # (zeros: the loss writes K columns, the scatter reads Kp)
    cdef floating[:, ::1] G = np.zeros((R, CSR_PASS_ROWS * Kp), dtype=dtype)
    cdef double[:, ::1] bpart = np.zeros((R, max(K, 1)))
    cdef double[::1] range_loss = np.zeros(R)
    cdef Py_ssize_t[::1] bad = np.full(R, -1, dtype=np.intp)
    cdef const int64_t *yp = &y[0] if y is not None and n else NULL
    cdef const floating *Yp = &Y[0, 0] if Y is not None and n else NULL
    cdef const double *swp = &sw[0] if sw is not None and n else NULL
    cdef double total = 0.0
    cdef Py_ssize_t first_bad = -1, r, r0, m, k, c, j, ch, b_bad
    cdef Py_ssize_t FC = max(1, PC // max(K, 1))     # features per chunk of the sum
    cdef Py_ssize_t n_chunks = (d + FC - 1) // FC
    cdef floating *Zr
    cdef floating *Gr
    with nogil:
        for r in prange(R, num_threads=threads, schedule="static"):
            Zr = &Z[r, 0]
            Gr = &G[r, 0]
            if with_grad and d:
                memset(&part[r, 0], 0, d * Kp * sizeof(floating))
            r0 = bounds[r]
            while r0 < bounds[r + 1]:
                m = min(CSR_PASS_ROWS, bounds[r + 1] - r0)
                _csr_rows_logits(&src, r0, r0 + m, Kp, &Wp[0, 0], &bp[0], Zr)
                b_bad = -1
                if floating is double:
                    range_loss[r] += skce_loss_rows_f64(
                        &ls, 0, m, Zr, Kp, yp + r0 if yp != NULL else NULL,
                        Yp + r0 * K if Yp != NULL else NULL,
                        swp + r0 if swp != NULL else NULL, grad_scale,
                        Gr if with_grad else NULL, &b_bad)
                else:
                    range_loss[r] += skce_loss_rows_f32(
                        &ls, 0, m, Zr, Kp, yp + r0 if yp != NULL else NULL,
                        Yp + r0 * K if Yp != NULL else NULL,
                        swp + r0 if swp != NULL else NULL, grad_scale,
                        Gr if with_grad else NULL, &b_bad)
                if b_bad >= 0 and bad[r] < 0:
                    bad[r] = r0 + b_bad
                if with_grad:
                    if d:
                        _csr_rows_weight_grad_add(&src, r0, r0 + m, Kp, Gr, &part[r, 0])
                    for k in range(m):
                        for c in range(K):
                            bpart[r, c] += Gr[k * Kp + c]
                            if with_rows:
                                row_grad[r0 + k, c] = Gr[k * Kp + c]
                r0 = r0 + m
        for r in range(R):   # in range order
            total += range_loss[r]
            if first_bad < 0 and bad[r] >= 0:
                first_bad = bad[r]
        if with_grad:
            # the ranges' shares, added in range order (padding dropped);
            # threads split the features in fixed chunks
            for ch in prange(n_chunks, num_threads=_threads_for(<double>R * P, n_threads),
                             schedule="static"):
                for k in range(R):
                    for j in range(ch * FC, min(ch * FC + FC, d)):
                        for c in range(K):
                            grad[j * K + c] += part[k, j * Kp + c]
            if with_b:
                for r in range(R):
                    for c in range(K):
                        grad[P + c] += bpart[r, c]
    return total, first_bad


# -- the Hessian of Newton's method (skce._solver._newton) -------------------
def csr_weighted_gram(const floating[::1] data, indices, indptr, Py_ssize_t r0, Py_ssize_t r1,
                      const double[::1] c, double[:, ::1] H, double[::1] xc):
    """H += sum_i c[i - r0] x_i x_iᵀ, xc += sum_i c[i - r0] x_i over CSR rows
    r0 <= i < r1 (src/solver/gram.c), float64, without the GIL."""
    cdef Py_ssize_t d = H.shape[0]
    cdef Source src
    _csr_source(&src, d, &data[0] if data.shape[0] else NULL, indices, indptr)
    if not (0 <= r0 <= r1 < indptr.shape[0]) or c.shape[0] < r1 - r0 or H.shape[1] != d \
            or xc.shape[0] != d:
        raise ValueError("csr_weighted_gram: inconsistent shapes")
    if r1 == r0:
        return
    with nogil:
        if floating is double:
            skce_csr_weighted_gram_f64(&src.sparse, r0, r1, &c[0], d, &H[0, 0], &xc[0])
        else:
            skce_csr_weighted_gram_f32(&src.sparse, r0, r1, &c[0], d, &H[0, 0], &xc[0])
