"""The one training loop of every skce estimator: minibatch SGD, Adam,
RMSprop, Adagrad or SVRG.

An estimator describes its problem as a `LossSpec` (which C loss kernel, how
many outputs, its encoded targets) and its hyperparameters as an
`OptimizerSpec`, then calls `train`.  Each epoch runs in compiled code
without the GIL (`skce._solver`); Python is entered once per epoch for the
stopping rules, the adaptive learning rate, validation scores and verbose
output.  With averaging (SolverState.average) the model is the mean of
each epoch's iterates while training continues from the last iterate.

Objective minimised (W: (n_features, n_outputs), b not regularized)::

    sum_i s_i * loss_i / sum_i s_i
        + alpha * ((1 - l1_ratio) / 2 * ||W||_2^2 + l1_ratio * ||W||_1)

with s_i the sample weight times the class weight (l1_ratio is 0 for
penalty="l2", 1 for "l1").  A minibatch step uses the unbiased gradient
sum_{i in batch} s_i grad(loss_i) / (batch size * mean(s)).  L2 enters the
gradient as torch.optim's weight_decay, for every solver (or, with
decoupled_weight_decay and Adam, as AdamW's decay); L1 is a proximal (soft-threshold) step after each
update, so exact zeros appear.

solver="svrg" (skce._solver._svrg) runs the same loop with a snapshot:
each epoch's steps use the variance-reduced gradient, the objective after
an epoch is the exact one of a full-gradient pass, an epoch that raises it
is undone with half the step, and tol bounds the max-norm of the gradient.
"""
import dataclasses
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from skce._config import effective_n_threads
from skce._loss import LOSSES
from skce._solver import _epoch as _solver
from skce._solver._epoch import EpochSettings
from skce._validation import check_sparse_structure, readable, readable_csr
from skce._solver._objective import LinearObjective, aligned_targets, intercept_only, penalty
from skce._solver._svrg import STEP_FACTOR, Snapshot, check_svrg, smoothness
from skce.exceptions import TrainingDiverged

__all__ = ["EpochSettings", "LossSpec", "OptimizerSpec", "SolverState", "TrainingDiverged",
           "train", "penalty_value"]


@dataclass
class LossSpec:
    """What the estimator trains: one of the C loss kernels and its targets.

    kind: a loss kind code (from the registry, skce._loss.LOSSES); y: int64
    class indices (n,) for the "index" target losses (cross-entropy, multi
    margin), else Y: (n, n_outputs) targets of X's dtype; scale
    multiplies every row loss (0.5 for the squared error's 1/2).
    """
    kind: int
    n_outputs: int
    y: np.ndarray = None
    Y: np.ndarray = None
    scale: float = 1.0
    label_smoothing: float = 0.0
    margin: float = 1.0
    delta: float = 1.0
    squared: bool = False
    crammer_singer: bool = False
    name: str = None   # of the registry row

    @classmethod
    def of(cls, info, n_outputs, **kwargs):
        """The spec of registry row `info` (a skce._loss.LossInfo)."""
        return cls(kind=info.kind, n_outputs=n_outputs, scale=info.scale, name=info.name,
                   **kwargs)


@dataclass
class OptimizerSpec:
    """Hyperparameters, with torch.optim's and scikit-learn's meanings."""
    solver: str = "adam"
    learning_rate: str = "constant"
    eta0: float = 1e-2
    power_t: float = 0.5
    alpha: float = 1e-4
    penalty: str = "l2"
    l1_ratio: float = 0.15
    momentum: float = 0.9
    dampening: float = 0.0
    nesterov: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    amsgrad: bool = False
    decoupled_weight_decay: bool = False
    rho: float = 0.99                       # RMSprop (torch's alpha)
    centered: bool = False                  # RMSprop
    lr_decay: float = 0.0                   # Adagrad
    initial_accumulator_value: float = 0.0  # Adagrad

    def l1_l2(self):
        """(L1 strength, L2 strength) of the penalty."""
        if self.penalty is None or self.alpha == 0:
            return 0.0, 0.0
        ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": self.l1_ratio}[self.penalty]
        return self.alpha * ratio, self.alpha * (1.0 - ratio)


def penalty_value(W, spec):
    """The penalty term of the objective for weights W (that of `LinearObjective`)."""
    return penalty(W, *spec.l1_l2())


@dataclass
class SolverState:
    """Parameters and optimizer state carried across epochs and partial_fit
    calls: theta = [W.ravel(), b] (W of shape (n_features, n_outputs)), the
    optimizer buffers (SGD momentum; Adam's first and second moments and
    their running maximum), the step count and the current base learning
    rate (lowered by learning_rate="adaptive").  With averaging, `average`
    is the mean of theta over the steps of the last epoch: the model that is
    evaluated and returned, while training goes on from theta."""
    theta: np.ndarray
    state1: np.ndarray
    state2: np.ndarray
    state3: np.ndarray
    step: int = 0
    eta: float = 0.0
    eta0: float = 0.0   # the eta0 that eta started from
    average: np.ndarray = None

    @classmethod
    def new(cls, n_features, n_outputs, dtype, eta, coef=None, intercept=None, average=False):
        P = n_features * n_outputs
        theta = np.zeros(P + n_outputs, dtype=dtype)
        if coef is not None:
            theta[:P] = np.asarray(coef, dtype=dtype).T.ravel()
        if intercept is not None:
            theta[P:] = intercept
        zeros = [np.zeros_like(theta) for _ in range(3)]
        return cls(theta, *zeros, step=0, eta=eta, eta0=eta,
                   average=theta.copy() if average else None)

    @property
    def model(self):
        """The parameters of the model: the epoch average, else theta."""
        return self.theta if self.average is None else self.average

    def _arrays(self):
        return (self.theta, self.state1, self.state2, self.state3, self.average)

    def copy(self):
        return SolverState(*[None if a is None else a.copy() for a in self._arrays()[:4]],
                           self.step, self.eta, self.eta0,
                           None if self.average is None else self.average.copy())

    def restore(self, saved):
        """Put back the arrays of `saved` (a copy of this state) in place."""
        for a, b in zip(self._arrays(), saved._arrays()):
            if a is not None:
                a[:] = b

    def astype(self, dtype):
        if self.theta.dtype == dtype:
            return self
        conv = [None if a is None else a.astype(dtype) for a in self._arrays()]
        return SolverState(*conv[:4], step=self.step, eta=self.eta, eta0=self.eta0,
                           average=conv[4])

    def set_model(self, theta):
        """Set theta (and the average) to the given parameters."""
        self.theta[:] = theta
        if self.average is not None:
            self.average[:] = theta

    def coef_intercept(self, n_features, n_outputs):
        """The model's (coef (n_outputs, n_features), intercept (n_outputs,)) as new arrays."""
        P = n_features * n_outputs
        return (self.model[:P].reshape(n_features, n_outputs).T.copy(),
                self.model[P:].copy())


@dataclass
class TrainResult:
    n_iter: int
    loss_curve: list
    validation_scores: list
    best_validation_score: float


_controller = None
_blas_lock = threading.Lock()
_blas_users = 0        # trainings (in any thread) inside _single_threaded_blas
_blas_limiter = None


@contextmanager
def _single_threaded_blas():
    """threadpoolctl's limit on BLAS, with the loaded libraries scanned once
    (a fresh scan costs milliseconds, too much per partial_fit call).

    Reference-counted under a lock: with fits running in several Python
    threads, the first one in sets the limit and the last one out restores
    the original thread counts (nested limiters would each restore what the
    previous one set, leaving BLAS single-threaded for good)."""
    global _controller, _blas_users, _blas_limiter
    with _blas_lock:
        if _controller is None:
            _controller = ThreadpoolController()
        if _blas_users == 0:
            _blas_limiter = _controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def _evaluation_batch(batch_size, n_features):
    """Rows per batch of a pass without steps: any size gives the same sum up
    to rounding, and larger ones run on more threads with fewer parallel
    regions (the synthetic 240,000 x 100 set: 38 -> 20 ms on 2 threads); the
    row buffer stays <= 2**20 elements (8 MB) however wide X is."""
    return max(batch_size, min(4096, 2**20 // max(n_features, 1)))


# Lazy CSR updates pay when a batch touches few weight rows: measured on
# random CSR (40,000 rows, 20 non-zeros each, 10 classes, batch 256; lazy /
# eager epoch time), at 23 % of the columns touched 0.84 (sgd) and 0.61
# (adam), at 47 % 1.33 and 0.91, at 99 % (a9a-like) 1.24 and 1.30.
# Plain SGD without L1 steps on W = S V from the non-zeros alone (no
# catch-up, skce_solver.h): lazy at any fraction (50,000 rows, 20 classes,
# batch 256, sgd / sgd averaged: d 200, 10 non-zeros, all columns touched,
# 0.83 / 1.08; d 2,000, 40 non-zeros, 0.66 / 0.80).
LAZY_TOUCHED_FRACTION = 0.35


def lazy_always_pays(opt):
    """Whether opt's CSR steps run on W = S V (plain SGD without L1, the
    compiled epoch's lazy_scaled), which costs no more than eager steps
    however many columns a batch touches."""
    return opt.solver == "sgd" and opt.momentum == 0 and opt.l1_l2()[0] == 0


def lazy_pays(X, batch_size, n_batches=8):
    """Whether lazy updates are worth it for CSR X: the mean fraction of the
    columns that a batch of batch_size rows touches, over `n_batches`
    batches of rows spread evenly over X (as shuffled batches are; no
    random draw, so the fit's random stream is untouched), against
    LAZY_TOUCHED_FRACTION."""
    n, d = X.shape
    if n == 0 or d == 0:
        return False
    B = max(1, min(int(batch_size), n))
    step = max(1, n // B)
    indptr, indices = X.indptr, X.indices
    touched = []
    for k in range(min(n_batches, step)):
        rows = (k + np.arange(B) * step) % n
        cols = np.concatenate([indices[indptr[r]:indptr[r + 1]] for r in rows])
        touched.append(np.unique(cols).size)
    return float(np.mean(touched)) <= LAZY_TOUCHED_FRACTION * d


def _run_epoch(X, order, batch_size, settings, train=True, lazy=False):
    if sp.issparse(X):
        data, indices, indptr = readable_csr(X)
        return _solver.epoch_csr(settings, data, indices, indptr, X.shape[1], order,
                                 batch_size, train, lazy)
    return _solver.epoch_dense(settings, X, order, batch_size, train)


def _readable_inputs(X, loss, sample_weight):
    """X, loss and sample_weight as the compiled epoch reads them: a CSR
    matrix whose structure was checked (any kernel would read a bad index
    out of bounds), or a dense X of a layout it can read in place (else a
    copy, see skce._validation.readable); targets and weights contiguous."""
    if sp.issparse(X):
        if X.format != "csr":
            raise TypeError(f"X must be dense or a CSR matrix; got {X.format.upper()}: "
                            "convert it with X.tocsr()")
        check_sparse_structure(X)
    else:
        X = readable(np.asarray(X), "X")
    loss, sample_weight = aligned_targets(loss, sample_weight)
    return X, loss, sample_weight


# A finite objective this many times that of the best constant model (or, if
# larger, of the zero model) means the run diverges: no useful linear model
# is that much worse than predicting a constant.
DIVERGENCE_FACTOR = 10.0
# ... and so does one that rose this many epochs in a row while over twice
# that level (clearly worse than a constant: not the noise near an optimum).
RISING_EPOCHS = 5
# svrg: the step halvings in a row (each after an epoch that raised the
# objective) after which the run counts as diverging: 2**-30 of the step of
# the smoothness bound is no step at all
MAX_HALVINGS = 30


def _reference_objective(X, loss, sample_weight):
    """max(loss of the best constant model, loss of the zero model, 1e-3): the
    level a diverging objective is measured against (no pass over X)."""
    obj = LinearObjective(X, loss, sample_weight=sample_weight)
    return max(obj.constant_loss(intercept_only(loss, sample_weight)),
               obj.constant_loss(np.zeros(loss.n_outputs)), 1e-3)


def _feature_scale(X):
    """(largest |X_ij|, its column) -- computed only to explain a divergence."""
    if sp.issparse(X):
        if X.nnz == 0:
            return 0.0, 0
        i = int(np.argmax(np.abs(X.data)))
        return float(abs(X.data[i])), int(X.indices[i])
    col = np.maximum(np.abs(X.max(axis=0)), np.abs(X.min(axis=0)))
    j = int(np.argmax(col))
    return float(col[j]), j


def divergence_advice(X, loss, opt, eta):
    """What to do about a diverging run: the learning rate in use, the
    scale of the features and (regression) of the target."""
    hints = [f"Lower eta0 (e.g. by 10x; learning rate {eta:g} with solver={opt.solver!r})"]
    if opt.solver != "adam":
        hints.append("use solver='adam' (its steps are bounded by eta0)")
    scale, column = _feature_scale(X)
    if scale > 100:   # named as a cause only when clearly unscaled (digits' pixels reach 16)
        hints.append(f"standardize X (e.g. with StandardScaler): feature {column} reaches "
                     f"|x| = {scale:.3g}")
    if loss.Y is not None and loss.name in ("squared_error", "huber"):
        y_scale = float(np.std(loss.Y))
        if y_scale > 10:
            hints.append(f"standardize y (e.g. with TransformedTargetRegressor and "
                         f"StandardScaler): its standard deviation is {y_scale:.3g}")
    if loss.name is not None and not loss.name.startswith(("hinge", "multi_margin")) \
            and opt.penalty in ("l2", None):
        hints.append("use solver='lbfgs' (full batch, no learning rate)")
    return "; ".join(hints) + "."


def train(X, loss, opt, state, *, sample_weight=None, fit_intercept=True, batch_size=256,
          max_iter=100, tol=1e-4, n_iter_no_change=5, train_rows=None, validation_score=None,
          shuffle=True, random_state=None, n_threads=1, verbose=0, check_convergence=True,
          total_epochs=None, callback=None):
    """Run up to max_iter epochs on `state` (a SolverState, modified in place).

    X: float32/float64 dense array (any layout) or CSR matrix of the state's
    dtype.  sample_weight: float64 (n,) combined weights or None.  train_rows:
    the rows to train on (default all).  validation_score(coef, intercept) ->
    float, when given, drives early stopping (higher is better) and the best
    validated parameters are restored at the end.  total_epochs: the epoch
    count the cosine schedule spans (default max_iter).  callback(epoch, coef,
    intercept, objective), when given, is called after every epoch (its time
    is not the training's); a true return value stops training.

    With state.average (averaging), the model is the mean of the iterates of
    each epoch, and the objective is computed for it in a pass without steps
    (train=False); otherwise it is the mean of the epoch's minibatch losses.

    opt.solver="svrg" (see skce._solver._svrg; all rows, no averaging, a
    smooth loss): the step starts at 1 / (STEP_FACTOR L_B) from the data
    (state.eta and opt.learning_rate are not used), doubles after each
    epoch that lowered the objective until one raises it or overflows;
    such an epoch is undone and the step halved (for good); the
    objective is the exact one after each epoch; training stops when the
    max-norm of its gradient is <= tol (n_iter_no_change is not used), after
    0 epochs if it is at the start.

    Raises TrainingDiverged if a batch loss or the objective is not finite,
    or (when check_convergence) the objective diverges while finite: above
    DIVERGENCE_FACTOR times that of the best constant model, or rising for
    RISING_EPOCHS epochs in a row above it; re-raises KeyboardInterrupt (or
    what another signal handler raised) within about 0.05 s plus one batch;
    `state` is then left as it was before the call.  A CSR X with an
    inconsistent structure raises ValueError before any kernel reads it.
    """
    svrg = opt.solver == "svrg"
    if svrg:
        if train_rows is not None or state.average is not None:
            raise ValueError("solver='svrg' trains on all the rows (no early_stopping) and "
                             "without averaging")
        check_svrg(loss)
    X, loss, sample_weight = _readable_inputs(X, loss, sample_weight)
    n_threads = effective_n_threads(n_threads)
    n_features = X.shape[1]
    K = loss.n_outputs
    rows = np.arange(X.shape[0], dtype=np.int64) if train_rows is None \
        else np.asarray(train_rows, dtype=np.int64)
    n_train = len(rows)
    batch_size = int(batch_size)   # >= 1; the compiled epoch clamps it to the rows
    steps_per_epoch = -(-n_train // batch_size)
    if sample_weight is not None:
        weight_scale = float(np.mean(sample_weight[rows])) if n_train else 1.0
    else:
        weight_scale = 1.0
    if not weight_scale > 0:
        raise ValueError("the sample weights (times the class weights) of the training rows "
                         "sum to zero: give some rows a positive weight")
    l1, l2 = opt.l1_l2()
    if opt.solver == "sgd" and opt.momentum == 0 and state.eta * l2 >= 1.0:
        # plain SGD's penalty step is w -> (1 - lr alpha) w (lazily composed
        # for CSR X, src/solver/lazy_impl.h): it must shrink the weights
        raise ValueError(f"learning rate {state.eta:g} times the L2 strength {l2:g} is "
                         ">= 1: each SGD step would flip the weights' signs; lower eta0 "
                         "or alpha")
    start_state = state.copy()
    settings = EpochSettings(
        loss, dataclasses.replace(opt, learning_rate="constant") if svrg else opt, state,
        n_threads=n_threads, fit_intercept=fit_intercept,
        weight_scale=weight_scale, total_steps=(total_epochs or max_iter) * steps_per_epoch,
        sample_weight=sample_weight)
    snapshot = None
    if svrg:
        snapshot = Snapshot(X, loss, l1, l2, sample_weight=sample_weight,
                            fit_intercept=fit_intercept, n_threads=n_threads)
        settings.eta = 1.0 / (STEP_FACTOR * smoothness(
            X, LOSSES[loss.name].curvature, sample_weight, fit_intercept, batch_size, l2))
        halvings, growing = 0, True

    rng = random_state
    order = rows.copy() if shuffle else rows
    loss_curve, val_scores = [], []
    best_loss, best_score, best_theta = np.inf, -np.inf, None
    no_improvement = 0
    converged = False   # for the ConvergenceWarning
    epoch = 0
    t_start = time.perf_counter()

    def diverged(message):
        state.restore(start_state)
        return TrainingDiverged(message + " The model was left unchanged")

    # the level a diverging objective is told by (fit only: partial_fit
    # calls see one epoch each, and a part of the data; svrg: its objective
    # never rises, an epoch that would raise it is undone)
    reference = _reference_objective(X, loss, sample_weight) \
        if check_convergence and not svrg else None
    rising = 0
    lazy = sp.issparse(X) and (lazy_always_pays(opt) or lazy_pays(X, batch_size))

    # BLAS runs single-threaded inside the OpenMP blocks (as scikit-learn's
    # KMeans does): no oversubscription, and results independent of threads.
    with _single_threaded_blas():
        if snapshot is not None:
            if not np.isfinite(snapshot.refresh(state.theta)):
                raise diverged(
                    "the objective is not finite at the starting parameters: the scores "
                    "overflow. Standardize X (e.g. with StandardScaler) or start without "
                    "warm_start.")
            settings.set_snapshot(snapshot.G, snapshot.mu, snapshot.scale)
            converged = tol is not None and snapshot.optimality <= tol
        for epoch in range(1, 0 if converged else max_iter + 1):
            if shuffle:   # rng.permutation(rows), reusing one buffer
                order[:] = rows
                rng.shuffle(order)
            settings.n_averaged = 0   # the average restarts every epoch
            total, weight, status, info = _run_epoch(X, order, batch_size, settings,
                                                     lazy=lazy)
            if status == _solver.INTERRUPTED:   # Ctrl-C between two batches
                state.restore(start_state)
                raise info
            if snapshot is not None and status in (_solver.OK, _solver.NONFINITE):
                # the next snapshot, or back to the last one with half the step
                if not snapshot.advance(state.theta, status == _solver.OK):
                    halvings += 1
                    if halvings > MAX_HALVINGS:
                        raise diverged(
                            f"training diverged: {MAX_HALVINGS} epochs in a row raised the "
                            f"objective or overflowed, down to learning rate "
                            f"{settings.eta:g} (solver='svrg'). "
                            + divergence_advice(X, loss, opt, settings.eta))
                    settings.eta /= 2.0
                    growing = False
                    if verbose:
                        print(f"   the epoch raised the objective: undone, learning rate "
                              f"halved to {settings.eta:.3g}")
                else:
                    halvings = 0
                    if growing:   # (see skce._solver._svrg: the bound is loose for most data)
                        settings.eta *= 2.0
            elif status == _solver.NONFINITE:
                raise diverged(
                    f"the training loss became NaN or infinite in epoch {epoch} (batch starting "
                    f"at row {int(order[info])}) with learning rate {settings.eta:g} "
                    f"(solver={opt.solver!r}): the learning rate is too large for this data. "
                    + divergence_advice(X, loss, opt, settings.eta))
            if status == _solver.BAD_TARGET:
                raise ValueError(f"target of row {info} is out of range for the loss")
            if state.average is not None:
                # the minibatch losses were those of the iterates: the objective
                # is that of the averaged model, in one pass without steps
                total, weight, status, info = _run_epoch(
                    X, rows, _evaluation_batch(batch_size, n_features), settings, train=False)
                if status == _solver.INTERRUPTED:
                    state.restore(start_state)
                    raise info
                if status == _solver.NONFINITE:
                    raise diverged(f"the averaged model's loss overflowed in epoch {epoch} "
                                   f"with learning rate {settings.eta:g}. "
                                   + divergence_advice(X, loss, opt, settings.eta))
            W = state.model[:n_features * K]
            if snapshot is not None:   # the exact objective, of the full-gradient pass
                objective = snapshot.value
            else:
                with np.errstate(over="ignore"):   # an overflow is reported just below
                    objective = (total / weight if weight > 0 else 0.0) + penalty_value(W, opt)
            if not np.isfinite(objective):
                # finite batch losses, yet weights so large that the objective
                # (the penalty, or the loss sum) overflowed: the final state
                # would be an overflowed model with an infinite loss_curve_
                raise diverged(
                    f"the objective became infinite in epoch {epoch}: the weights grew to "
                    f"max |w| = {float(np.abs(W).max()) if W.size else 0.0:.3g} with learning "
                    f"rate {settings.eta:g}. " + divergence_advice(X, loss, opt, settings.eta))
            if reference is not None:
                rising = rising + 1 if loss_curve and objective > loss_curve[-1] \
                    and objective > 2 * reference else 0
                if objective > DIVERGENCE_FACTOR * reference or rising >= RISING_EPOCHS:
                    what = (f"is {objective:.3g}, over {DIVERGENCE_FACTOR:g}x that of a "
                            f"constant model ({reference:.3g})" if rising < RISING_EPOCHS else
                            f"rose for {rising} epochs in a row to {objective:.3g}, over twice "
                            f"that of a constant model ({reference:.3g})")
                    raise diverged(
                        f"training diverged: the objective after epoch {epoch} {what}, with "
                        f"learning rate {settings.eta:g} (solver={opt.solver!r}): the "
                        "learning rate is too large for this data. "
                        + divergence_advice(X, loss, opt, settings.eta))
            loss_curve.append(objective)
            score = None
            if validation_score is not None:
                coef, intercept = state.coef_intercept(n_features, K)
                score = float(validation_score(coef, intercept))
                val_scores.append(score)
            if verbose:
                msg = f"-- Epoch {epoch}: avg. loss {objective:.6g}"
                if score is not None:
                    msg += f", validation score {score:.6g}"
                if snapshot is not None:
                    msg += f", max |gradient| {snapshot.optimality:.3g}"
                msg += (f", lr {settings.eta:.3g}, steps {settings.step}, "
                        f"{time.perf_counter() - t_start:.2f} s")
                print(msg)
            if callback is not None:
                coef, intercept = state.coef_intercept(n_features, K)
                if callback(epoch, coef, intercept, objective):
                    converged = True
                    break
            if snapshot is not None:
                if tol is not None and snapshot.optimality <= tol:
                    converged = True
                    break
                continue
            if validation_score is not None:
                improved = tol is None or score > best_score + tol
                if score > best_score:
                    best_score, best_theta = score, state.model.copy()
            else:
                improved = tol is None or objective < best_loss - tol
            best_loss = min(best_loss, objective)
            if tol is not None and check_convergence:
                no_improvement = 0 if improved else no_improvement + 1
                if no_improvement >= n_iter_no_change:
                    if opt.learning_rate == "adaptive" and settings.eta > 1e-6:
                        settings.eta /= 5.0
                        no_improvement = 0
                        if verbose:
                            print(f"   learning rate lowered to {settings.eta:.3g}")
                    else:
                        converged = True
                        break
    if best_theta is not None:
        state.set_model(best_theta)
    state.step = settings.step
    state.eta = settings.eta
    if not np.isfinite(state.model).all():   # defensive: a finite loss, yet overflowed weights
        raise diverged(f"the weights overflowed with learning rate {settings.eta:g}. "
                       + divergence_advice(X, loss, opt, settings.eta))
    if check_convergence and not converged and max_iter > 1 and tol is not None:
        warnings.warn(f"Maximum number of epochs ({max_iter}) reached and the optimization "
                      "has not converged; consider increasing max_iter or "
                      + ("tol (the gradient's max-norm)" if svrg else "eta0"),
                      ConvergenceWarning)
    return TrainResult(epoch, loss_curve, val_scores,
                       best_score if validation_score is not None else None)
