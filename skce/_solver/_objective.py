"""The one objective of skce's linear models: loss + penalty + reductions.

As scikit-learn's ``LinearModelLoss`` (sklearn/linear_model/_linear_loss.py),
for the parameters theta = [W.ravel(), b] (W of shape (n_features,
n_outputs), C order; b only with fit_intercept)::

    F(theta) = scale * sum_i s_i loss_i(X_i W + b) / sum_i s_i
               + l2 / 2 ||W||_2^2 + l1 ||W||_1

(s_i: sample weight times class weight, 1 when None; scale: LossSpec.scale;
b not penalized).  The scores and the loss gradient G = dloss/dZ come from
skce's compiled loss kernels (the Cython wrappers of skce._loss, the same C
code the minibatch epoch runs), the products from BLAS (dense X, any layout)
or scipy.sparse (CSR, never densified).  Rows are processed in chunks with
preallocated Z / G buffers, so memory is O(chunk_rows * n_outputs) besides
X.  Dense X of rows with unit column stride and up to 64 outputs takes one
fused compiled pass instead (`_epoch.small_k_pass`: logits, loss and share
of Xᵀ G per block of rows, X read once; buffers O(2048 * n_outputs + 8 *
n_features * n_outputs)); so does CSR X while 4 shares of Xᵀ G fit in 64 MB
(`_epoch.csr_pass`: 4 ranges of rows, each with its share, on the OpenMP
threads; scipy's products run on one thread and read X twice).  float32 X
stays float32 in the products and kernels; sums (objective, gradient)
accumulate in float64.

The penalty functions here are also what the minibatch loop reports
(`skce._solver.penalty_value`): one penalty implementation.
"""
import dataclasses

import numpy as np
import scipy.sparse as sp
# scipy.sparse's own CSR kernels (what X @ W runs), called on row ranges of X
# in place: no chunk copies of the data, products accumulated into buffers
from scipy.sparse._sparsetools import csc_matvec, csc_matvecs, csr_matvec, csr_matvecs

from skce._loss import _elementwise, _margin, _softmax
from skce._solver import _epoch
from skce._validation import readable

__all__ = ["LinearObjective", "penalty", "regularized", "intercept_only", "target_sums",
           "zero_column_weights"]

# Rows per chunk: large enough for efficient GEMMs and few kernel calls,
# small enough that Z and G stay in the last-level cache for narrow K.
CHUNK_ROWS = 8192


def penalty(W, l1, l2):
    """l2 / 2 ||W||_2^2 + l1 ||W||_1 (float64), for any array W.

    Parameters
    ----------
    W : ndarray
        The weights (not the intercept).
    l1, l2 : float
        Strengths of the L1 and L2 parts (OptimizerSpec.l1_l2()).

    Returns
    -------
    value : float
    """
    w = np.asarray(W).ravel()
    value = 0.0
    if l2:
        value += 0.5 * l2 * float(np.dot(w, w))
    if l1:
        value += l1 * float(np.abs(w).sum())
    return value


def _add_penalty_gradient(w, l1, l2, out):
    """out += gradient of `penalty` at w (for L1 the subgradient sign(w))."""
    if l2:
        out += l2 * w
    if l1:
        out += l1 * np.sign(w)


def regularized(mean_loss, grad, theta, n_weights, l1, l2):
    """(F, its gradient): the penalty of W = theta[:n_weights] joined to the
    mean loss and its gradient (grad, updated in place).  The one place that
    happens, for the in-memory objective and for skce.dask's driver, which
    gets the mean from its blocks' sums."""
    W = theta[:n_weights]
    _add_penalty_gradient(W, l1, l2, grad[:n_weights])
    return mean_loss + penalty(W, l1, l2), grad


def target_sums(loss, sample_weight=None):
    """(sum of the row weights, per output the weighted sum of the targets --
    for class-index targets the weight of each class): what the intercept-only
    optimum depends on.  Sums of row blocks add up to those of the data set.

    Parameters
    ----------
    loss : LossSpec
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    total : float
    sums : ndarray of shape (loss.n_outputs,), float64
    """
    K = loss.n_outputs
    n = len(loss.y) if loss.y is not None else len(loss.Y)
    total = float(n if sample_weight is None else np.sum(sample_weight))
    if loss.y is not None:
        return total, np.bincount(loss.y, weights=sample_weight, minlength=K)[:K].astype(
            np.float64)
    Y = np.asarray(loss.Y, dtype=np.float64)
    return total, (Y.sum(axis=0) if sample_weight is None else sample_weight @ Y)


def intercept_only(loss, sample_weight=None, sums=None):
    """The optimal intercept of a model without features, float64 (n_outputs,).

    The start of a cold fit (as scikit-learn's ``fit_intercept_only``): the
    centred log class priors for the softmax cross-entropy (smoothed as the
    labels are), the logit of the positive rate for the logistic loss, the
    weighted mean target for the squared error and Huber, 0 for the margin
    losses (their optimum without features has no closed form worth it).

    Parameters
    ----------
    loss : LossSpec
    sample_weight : ndarray of shape (n_samples,) or None
    sums : (total, sums) of `target_sums`, optional
        Given (e.g. added up over the blocks of a distributed data set), the
        targets of `loss` are not read.

    Returns
    -------
    intercept : ndarray of shape (loss.n_outputs,)
    """
    K = loss.n_outputs
    if loss.kind not in (_softmax.CE_INDEX, _elementwise.BCE, _elementwise.MSE,
                         _elementwise.HUBER):
        return np.zeros(K)
    total, sums = target_sums(loss, sample_weight) if sums is None else sums
    mean = np.asarray(sums, dtype=np.float64) / total
    if loss.kind == _softmax.CE_INDEX:
        p = (1 - loss.label_smoothing) * mean + loss.label_smoothing / K
        # a class without weight would start at -inf: clip at a tiny prior
        logp = np.log(np.clip(p, 1e-12, None))
        return logp - logp.mean()
    if loss.kind == _elementwise.BCE:
        p = np.clip(mean, 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)
    return mean


def start_curvature(loss, sample_weight=None, sums=None):
    """The loss's curvature (second derivative in a score) where a cold fit
    starts, averaged over the outputs: the mean of p (1 - p) at the weighted
    class priors / positive rates for the softmax and logistic losses (the
    intercept-only start's probabilities), else the registry's bound on it
    (1 without one).  `sums` as for `intercept_only`."""
    from skce._loss import LOSSES   # (import cycle: the registry imports the solver)
    if loss.kind in (_softmax.CE_INDEX, _elementwise.BCE):
        total, sums = target_sums(loss, sample_weight) if sums is None else sums
        p = np.asarray(sums, dtype=np.float64) / total
        if loss.kind == _softmax.CE_INDEX:
            p = (1 - loss.label_smoothing) * p + loss.label_smoothing / loss.n_outputs
        return float(np.mean(p * (1 - p)))
    bound = LOSSES[loss.name].curvature if loss.name in LOSSES else None
    return 1.0 if bound is None else float(bound)


def diagonal_curvature(column_squares, weight_sum, curvature, l2, n_outputs, fit_intercept):
    """An estimate of the diagonal of F's Hessian, float64 (n_params,), positive:
    c * sum_i s_i x_ij^2 / sum_i s_i + l2 for every weight of feature j, c for
    the intercepts (c: `start_curvature`; column_squares[j] = sum_i s_i
    x_ij^2): the Hessian's diagonal with every row's curvature taken as c
    (exact for the squared error).  The diagonal of skce's L-BFGS initial
    Hessian (`_owlqn.minimize_owlqn`'s precondition is its inverse): on
    text-like data the columns' scales span orders of magnitude (a word in
    most rows, a word in one), which one scalar H0 cannot follow.  (One c
    for all outputs: a c per class, from its prior, took more iterations:
    218 against 153 to tol 1e-7 on bench_optimum's sparse set.)"""
    col = np.asarray(column_squares, dtype=np.float64) / weight_sum * curvature + l2
    h = np.repeat(col, n_outputs)
    if fit_intercept:
        h = np.concatenate([h, np.full(n_outputs, float(curvature))])
    positive = h > 0   # an all-zero column without L2 (its gradient is 0): any scale
    h[~positive] = h[positive].max() if positive.any() else 1.0
    return h


def zero_column_weights(column_squares, n_outputs, fit_intercept):
    """The mask of the parameters (as `diagonal_curvature`'s) that are weights
    of columns with column_squares[j] == 0: their loss gradient is 0."""
    mask = np.repeat(np.asarray(column_squares) == 0, n_outputs)
    return np.concatenate([mask, np.zeros(n_outputs, bool)]) if fit_intercept else mask


def _row_chunks(X, chunk_rows):
    """(r0, r1, rows) per chunk: a view of dense X's rows, or for CSR the
    view X.indptr[r0:r1 + 1] (it indexes X.data / X.indices in place)."""
    n = X.shape[0]
    return [(r0, min(r0 + chunk_rows, n),
             X.indptr[r0:min(r0 + chunk_rows, n) + 1] if sp.issparse(X)
             else X[r0:r0 + chunk_rows])
            for r0 in range(0, n, chunk_rows)]


def _aligned(a):
    return None if a is None else np.require(a, requirements=["C", "A"])


def aligned_targets(loss, sample_weight):
    """The loss's targets and the row weights as the C kernels read them:
    C-contiguous and aligned (a view at an odd byte offset, which
    np.ascontiguousarray passes through, is copied: n values, not X)."""
    if loss.y is not None or loss.Y is not None:
        loss = dataclasses.replace(loss, y=_aligned(loss.y), Y=_aligned(loss.Y))
    return loss, _aligned(sample_weight)


class LinearObjective:
    """F(theta) and its gradient for a linear model on X (see the module doc).

    Parameters
    ----------
    X : ndarray (float32 or float64, any layout) or CSR matrix of shape (n_samples, n_features)
    loss : LossSpec
        The loss kernel and its targets (y or Y of n_samples rows).
    l1, l2 : float, default=0
        Penalty strengths (OptimizerSpec.l1_l2()).
    sample_weight : ndarray of shape (n_samples,) or None
        Combined row weights s_i (float64, non-negative, positive sum).
    fit_intercept : bool, default=True
        Whether theta ends with the intercept b (else b = 0).
    n_threads : int, default=1
        OpenMP threads of the loss kernels.
    chunk_rows : int, default=CHUNK_ROWS
        Rows per chunk (memory of the Z and G buffers).
    """

    def __init__(self, X, loss, *, l1=0.0, l2=0.0, sample_weight=None, fit_intercept=True,
                 n_threads=1, chunk_rows=CHUNK_ROWS):
        if sp.issparse(X) and X.format != "csr":
            raise TypeError(f"X must be dense or CSR; got a {X.format!r} matrix")
        self._sparse = sp.issparse(X)
        if not self._sparse:
            X = readable(np.asarray(X), "X")
        loss, sample_weight = aligned_targets(loss, sample_weight)
        self.X, self.spec = X, loss
        if self._sparse:
            self._data, self._indices, indptr = X.data, X.indices, X.indptr
            if self._indices.dtype != indptr.dtype:   # rare: the kernels take one index type
                self._indices = self._indices.astype(indptr.dtype)
        self.l1, self.l2 = float(l1), float(l2)
        self.fit_intercept = bool(fit_intercept)
        self.n_threads = int(n_threads)
        self.dtype = X.dtype
        self.n_samples, self.n_features = X.shape
        self.n_outputs = K = loss.n_outputs
        self.sample_weight = None if sample_weight is None \
            else np.require(sample_weight, np.float64, ["C", "A"])
        total = float(self.n_samples if sample_weight is None else self.sample_weight.sum())
        if not total > 0:
            raise ValueError("the sample weights sum to zero: give some rows a positive weight")
        # one factor turns the kernels' weighted sums into the mean loss
        self.weight_sum = total
        self._factor = float(loss.scale) / total
        self._chunks = _row_chunks(X, max(1, int(chunk_rows)))
        m = min(self.n_samples, max(1, int(chunk_rows)))
        self._Z = np.empty((m, K), dtype=self.dtype)
        self._G = np.empty((m, K), dtype=self.dtype)
        self._XtG = np.empty((self.n_features, K), dtype=self.dtype)
        # dense X with up to 64 outputs: one pass of the minibatch epoch's
        # register-blocked kernels reads X once (logits, loss and X^T G per
        # block in cache) where BLAS reads it twice in skinny GEMMs (a
        # fraction of its speed with ~10 columns); 240,000 x 100, 10
        # classes, 1 thread: 88 -> 43 ms per evaluation
        # (rows of unit column stride: F-ordered X keeps the BLAS path)
        self._small_k = (not self._sparse and X.strides[1] == X.itemsize
                         and _epoch.small_k_pass_applies(self.n_features, K, self.dtype))
        # CSR X: one pass too (logits, loss and the scatter of X^T G per block
        # of rows in cache, over threads), where scipy's products read X twice
        # on one thread
        self._csr_pass = self._sparse and _epoch.csr_pass_applies(self.n_features, K,
                                                                  self.dtype)
        if self._small_k or self._csr_pass:
            vl = 32 // self.dtype.itemsize   # W and b, columns padded to whole vectors
            # (CSR with one output: unpadded, the scalar kernels; a9a on 1
            # thread: 1.07 -> 0.76 ms a pass)
            kp = 1 if self._csr_pass and K == 1 else -(-K // vl) * vl
            self._Wp = np.zeros((self.n_features, kp), dtype=self.dtype)
            self._bp = np.zeros(self._Wp.shape[1], dtype=self.dtype)
            # the targets as the passes read them (once, not per evaluation)
            self._y = None if loss.y is None else np.ascontiguousarray(loss.y, np.int64)
            self._Y = None if loss.y is not None else np.ascontiguousarray(loss.Y, self.dtype)
        if self._csr_pass:   # the 4 ranges' shares of X^T G
            self._part = np.empty((_epoch.CSR_PASS_RANGES, self._Wp.size), dtype=self.dtype)
        self.n_params = self.n_features * K + (K if self.fit_intercept else 0)

    # -- parameters -----------------------------------------------------------
    def unpack(self, theta):
        """(W (n_features, n_outputs), b (n_outputs,)) as views of theta (b: zeros
        without intercept)."""
        P = self.n_features * self.n_outputs
        W = theta[:P].reshape(self.n_features, self.n_outputs)
        b = theta[P:] if self.fit_intercept else np.zeros(self.n_outputs, theta.dtype)
        return W, b

    def pack(self, W, b):
        """theta (float64) of weights W (n_features, n_outputs) and intercept b."""
        parts = [np.asarray(W, np.float64).ravel()]
        if self.fit_intercept:
            parts.append(np.asarray(b, np.float64).ravel())
        return np.concatenate(parts)

    def column_moments(self):
        """(sum_i s_i x_ij, sum_i s_i x_ij^2) for each feature j, both float64
        (n_features,): one pass, chunk by chunk (temporaries of one chunk of
        rows, not of X)."""
        sw = self.sample_weight
        if not self._sparse and self.X.strides[1] == self.X.itemsize:
            # (the kernel of the fused pass: 29 -> 6 ms on 192,000 x 100)
            sums, squares = _epoch.dense_column_moments(self.X, sw, self.n_threads)
            return sums, squares
        sums, squares = np.zeros(self.n_features), np.zeros(self.n_features)
        for r0, r1, rows in self._chunks:
            if self._sparse:
                q0, q1 = int(rows[0]), int(rows[-1])
                v = self._data[q0:q1].astype(np.float64)
                if sw is not None:
                    v_w = v * np.repeat(sw[r0:r1], np.diff(rows))
                else:
                    v_w = v
                idx = self._indices[q0:q1]
                sums += np.bincount(idx, weights=v_w, minlength=self.n_features)
                squares += np.bincount(idx, weights=v_w * v, minlength=self.n_features)
            else:
                x = np.asarray(rows, dtype=np.float64)
                w = np.ones(r1 - r0) if sw is None else sw[r0:r1]
                sums += w @ x
                squares += w @ np.square(x)
        return sums, squares

    def diagonal_curvature(self, column_squares=None):
        """`diagonal_curvature` of this objective (its data, weights and L2),
        from `column_squares` when given (e.g. `CenteredIntercept`'s), else
        from `column_moments`."""
        if column_squares is None:
            column_squares = self.column_moments()[1]
        return diagonal_curvature(
            column_squares, self.weight_sum, start_curvature(self.spec, self.sample_weight),
            self.l2, self.n_outputs, self.fit_intercept)

    # -- the pass over the data ---------------------------------------------
    def _kernel(self, r0, r1, Z, G):
        """Weighted loss sum of rows [r0, r1) at scores Z; G = its gradient
        times self._factor when G is not None."""
        loss = self.spec
        sw = None if self.sample_weight is None else self.sample_weight[r0:r1]
        m, K = Z.shape
        if loss.kind == _softmax.CE_INDEX:
            return _softmax.class_loss(
                _softmax.CE_INDEX, Z.reshape(m, K, 1), loss.y[r0:r1].reshape(m, 1), None,
                None, sw, -100, loss.label_smoothing, self._factor, None,
                None if G is None else G.reshape(m, K, 1), self.n_threads)
        if loss.kind == _margin.MULTI_MARGIN:
            total, bad = _margin.multi_margin(
                Z, loss.y[r0:r1], None, sw, 2 if loss.squared else 1, loss.margin,
                loss.crammer_singer, self._factor, None, G, self.n_threads)
            if bad >= 0:
                raise ValueError(f"target of row {r0 + bad} is out of range for the loss")
            return total
        total, _ = _elementwise.elementwise(
            loss.kind, Z.reshape(m, 1, K), loss.Y[r0:r1].reshape(m, 1, K),
            None, None, sw, self._factor, loss.margin, loss.delta, loss.squared, None,
            None if G is None else G.reshape(m, 1, K), self.n_threads)
        return total

    def _pass(self, theta, grad, row_gradients=None, moments=None):
        """The mean loss (without penalty) at theta; its gradient into grad
        (float64, shape of theta) when grad is not None, and then dloss/dZ
        of every row into row_gradients when given (see
        `loss_gradient_rows`).  moments (2 x n_features, fused pass only):
        `column_moments()` into it."""
        W, b = self.unpack(theta)
        Wd = np.ascontiguousarray(W, dtype=self.dtype)
        bd = b.astype(self.dtype)
        total = 0.0
        if grad is not None:
            grad[:] = 0.0
            gW, gb = self.unpack(grad)
        nf, K = self.n_features, self.n_outputs
        if self._small_k:
            self._Wp[:, :K] = Wd
            self._bp[:K] = bd
            total, bad = _epoch.small_k_pass(
                self.X, self._Wp, self._bp, self.spec, self._y, self._Y,
                self.sample_weight, self._factor, grad, row_gradients, self.n_threads, moments)
            if bad >= 0:
                raise ValueError(f"target of row {bad} is out of range for the loss")
            return total * self._factor
        if self._csr_pass:
            self._Wp[:, :K] = Wd
            self._bp[:K] = bd
            total, bad = _epoch.csr_pass(
                self._data, self._indices, self.X.indptr, self._Wp, self._bp, self.spec,
                self._y, self._Y, self.sample_weight, self._factor, grad,
                self._part if grad is not None else None, row_gradients, self.n_threads)
            if bad >= 0:
                raise ValueError(f"target of row {bad} is out of range for the loss")
            return total * self._factor
        for r0, r1, Xc in self._chunks:
            m = r1 - r0
            Z = self._Z[:m]
            G = None if grad is None else \
                self._G[:m] if row_gradients is None else row_gradients[r0:r1]
            if self._sparse:
                Z[:] = 0
                if K == 1:   # the one-vector kernel: 3x faster than matvecs on a9a
                    csr_matvec(m, nf, Xc, self._indices, self._data, Wd.ravel(), Z.ravel())
                else:
                    csr_matvecs(m, nf, K, Xc, self._indices, self._data, Wd.ravel(),
                                Z.ravel())
            else:
                np.dot(Xc, Wd, out=Z)
            if self.fit_intercept:
                Z += bd
            total += self._kernel(r0, r1, Z, G)
            if grad is not None:
                if self._sparse:   # X^T G: CSR rows of X are CSC columns of X^T
                    self._XtG[:] = 0
                    if K == 1:
                        csc_matvec(nf, m, Xc, self._indices, self._data, G.ravel(),
                                   self._XtG.ravel())
                    else:
                        csc_matvecs(nf, m, K, Xc, self._indices, self._data, G.ravel(),
                                    self._XtG.ravel())
                    gW += self._XtG
                else:
                    gW += np.dot(Xc.T, G, out=self._XtG)
                if self.fit_intercept:
                    gb += G.sum(axis=0, dtype=np.float64)
        return total * self._factor

    def constant_loss(self, b):
        """The mean loss (no penalty) of the model predicting b (n_outputs,) for
        every row: one pass of the kernels over the targets, none over X."""
        total = 0.0
        for r0, r1, _ in self._chunks:
            Z = self._Z[:r1 - r0]
            Z[:] = np.asarray(b, dtype=self.dtype)
            total += self._kernel(r0, r1, Z, None)
        return total * self._factor

    # -- the objective ----------------------------------------------------------
    def loss_gradient_sum(self, theta):
        """(sum_i s_i * scale * loss_i, its gradient w.r.t. theta): the loss part
        unnormalized and without penalty -- one row block's share of a
        data-parallel fit (skce.dask adds them up over the blocks)."""
        grad = np.zeros(np.shape(theta), dtype=np.float64)
        mean = self._pass(theta, grad)
        return mean * self.weight_sum, grad * self.weight_sum

    def loss_gradient_rows(self, theta, row_gradients):
        """(mean loss, its gradient w.r.t. theta), both without the penalty,
        and the gradient w.r.t. the scores of every row into row_gradients:
        G_i = scale * s_i * dloss_i/dZ_i / sum_i s_i, so that the loss
        gradient is [Xᵀ G, column sums of G].  What SVRG's snapshot keeps
        (skce._solver._svrg): an epoch then needs no second pass at it.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        row_gradients : ndarray of shape (n_samples, n_outputs)
            C-contiguous, of X's dtype; overwritten.

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_params,), float64
        """
        shape = (self.n_samples, self.n_outputs)
        if row_gradients.shape != shape or row_gradients.dtype != self.dtype or \
                not row_gradients.flags.c_contiguous:
            raise ValueError(f"row_gradients must be a C-contiguous {self.dtype} array of "
                             f"shape {shape}")
        grad = np.empty(self.n_params)
        value = self._pass(np.asarray(theta, dtype=np.float64), grad, row_gradients)
        return value, grad

    def loss(self, theta):
        """F(theta) (float)."""
        theta = np.asarray(theta, dtype=np.float64)
        return self._pass(theta, None) + penalty(self.unpack(theta)[0], self.l1, self.l2)

    def loss_gradient_moments(self, theta):
        """(F(theta), its gradient, `column_moments()`): with the fused dense
        pass the moments come from the same read of X."""
        theta = np.asarray(theta, dtype=np.float64)
        if not self._small_k:
            return (*self.loss_gradient(theta), self.column_moments())
        grad = np.empty(self.n_params)
        moments = np.empty((2, self.n_features))
        value = self._pass(theta, grad, moments=moments)
        value, grad = regularized(value, grad, theta, self.n_features * self.n_outputs,
                                  self.l1, self.l2)
        return value, grad, (moments[0], moments[1])

    def loss_gradient(self, theta):
        """(F(theta), its gradient as a float64 array of theta's shape)."""
        theta = np.asarray(theta, dtype=np.float64)
        grad = np.empty(self.n_params)
        value = self._pass(theta, grad)
        return regularized(value, grad, theta, self.n_features * self.n_outputs,
                           self.l1, self.l2)

    def gradient(self, theta):
        """The gradient of F at theta."""
        return self.loss_gradient(theta)[1]
