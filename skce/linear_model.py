"""scikit-learn estimators trained by minibatch SGD or Adam on skce's kernels.

Every estimator here picks a loss kernel (a `skce.solver.LossSpec`) and hands
it, with its hyperparameters, to the one training loop `skce.solver.train`.
"""
import functools
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (_check_sample_weight, _num_samples, check_is_fitted,
                                      validate_data)

from skce import _solver, losses
from skce._config import effective_n_threads
from skce.solver import LossSpec, OptimizerSpec, SolverState, train

__all__ = ["SoftmaxClassifier", "LinearSVM", "LinearRegressor"]


# set by fit/partial_fit before training: put back if the call fails or is interrupted
_FIT_INPUT_ATTRS = ("classes_", "n_features_in_", "feature_names_in_", "_rng", "_y_1d")


def _unchanged_on_error(method):
    """fit/partial_fit leave the estimator as it was when they raise (even
    KeyboardInterrupt): the results are stored only once training succeeded
    (see `_run`); this also restores what input validation set before."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = {a: getattr(self, a) for a in _FIT_INPUT_ATTRS if hasattr(self, a)}
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            for a in _FIT_INPUT_ATTRS:
                if a in saved:
                    setattr(self, a, saved[a])
                elif hasattr(self, a):
                    delattr(self, a)
            raise
    return wrapper


def _unique_labels(y):
    """(classes, int64 index of each label in classes), as np.unique(y,
    return_inverse=True).  Integer labels of a compact range are counted
    instead of sorted: no n-sized sort temporaries (np.unique's raised the
    traced peak of fit on a 500,000 x 100 float32 X from 16.2 to 20.6 MB)."""
    y = np.asarray(y)
    if y.dtype.kind in "iu" and y.size:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= 2 * y.size + 1024 and -2**62 <= lo and hi <= 2**62:
            shifted = y.astype(np.int64) - lo if lo else y.astype(np.int64, copy=False)
            present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            classes = (np.flatnonzero(present) + lo).astype(y.dtype)
            position = np.cumsum(present, dtype=np.int64) - 1
            return classes, position[shifted]
    classes, y_idx = np.unique(y, return_inverse=True)
    return classes, y_idx.astype(np.int64).ravel()


class _BaseSGD(BaseEstimator):
    """Hyperparameters, validation and the fit / partial_fit plumbing shared
    by the estimators; subclasses say how targets become a LossSpec."""

    _parameter_constraints = {
        "solver": [StrOptions({"sgd", "adam"})],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "cosine"})],
        "eta0": [Interval(Real, 0, None, closed="neither"), None],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "dampening": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "amsgrad": ["boolean"],
        "decoupled_weight_decay": ["boolean"],
        "fit_intercept": ["boolean"],
        "shuffle": ["boolean"],
        "average": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
    }

    def _eta0(self):
        """eta0, or the measured default of the solver (Adam 0.01, SGD with momentum 0.1)."""
        if self.eta0 is not None:
            return float(self.eta0)
        return 0.01 if self.solver == "adam" else 0.1

    def _optimizer_spec(self, alpha=None):
        return OptimizerSpec(
            solver=self.solver, learning_rate=self.learning_rate, eta0=self._eta0(),
            power_t=self.power_t, alpha=self.alpha if alpha is None else alpha,
            penalty=self.penalty,
            l1_ratio=self.l1_ratio, momentum=self.momentum, dampening=self.dampening,
            nesterov=self.nesterov, beta_1=self.beta_1, beta_2=self.beta_2,
            epsilon=self.epsilon, amsgrad=self.amsgrad,
            decoupled_weight_decay=self.decoupled_weight_decay)

    def _check_hyperparameters(self):
        if self.nesterov and (self.solver != "sgd" or self.momentum <= 0 or self.dampening):
            raise ValueError("nesterov=True needs solver='sgd', momentum > 0 and dampening=0 "
                             "(as torch.optim.SGD)")
        if self.n_jobs == 0:
            raise ValueError("n_jobs=0 is not valid: use None (all available threads), a "
                             "positive count, or -1 for all CPUs")

    def _validate_X_y(self, X, y, reset, allow_empty=False):
        try:
            return validate_data(
                self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order=None,
                reset=reset, multi_output=self._multi_output, y_numeric=self._y_numeric,
                ensure_min_samples=0 if allow_empty else 1)
        except ValueError as exc:
            if "could not convert" not in str(exc):
                raise
            raise ValueError(f"X must hold numbers ({exc}); encode text or categorical "
                             "columns first, e.g. with sklearn.preprocessing.OneHotEncoder "
                             "in a ColumnTransformer") from exc

    def _weights(self, X, sample_weight, y_idx):
        """Combined per-row weights (sample weight x class weight) or None."""
        cw = self._class_weight_vector(y_idx) if hasattr(self, "_class_weight_vector") else None
        if sample_weight is None and cw is None:
            return None
        try:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                      ensure_non_negative=True)
        except ValueError as exc:
            raise ValueError(f"{exc} sample_weight needs one finite, non-negative weight per "
                             "sample, at least one of them positive") from exc
        if cw is not None:
            sw = sw * cw[y_idx]
        if not sw.sum() > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: at least one "
                             "sample needs a positive weight")
        return sw

    def _run(self, X, loss, sw, state, *, max_iter, partial, y_for_split=None, callback=None):
        """Train `state` (a private copy) and, on success, store the result."""
        rng = check_random_state(self.random_state) if not partial else self._rng
        train_rows, validation_score = None, None
        if self.early_stopping and not partial:
            train_rows, val_rows = self._validation_split(X.shape[0], y_for_split, rng)
            validation_score = self._make_validation_score(X, val_rows, sw)
        result = train(
            X, loss, self._optimizer_spec(self._alpha_for(sw, train_rows, X.shape[0])), state,
            sample_weight=sw,
            fit_intercept=self.fit_intercept, batch_size=self.batch_size, max_iter=max_iter,
            tol=self.tol, n_iter_no_change=self.n_iter_no_change, train_rows=train_rows,
            validation_score=validation_score, shuffle=self.shuffle, random_state=rng,
            n_threads=effective_n_threads(self.n_jobs), verbose=self.verbose,
            check_convergence=not partial,
            total_epochs=self.max_iter, callback=callback)
        self._rng = rng
        self._solver_state = state
        self._set_coef(*state.coef_intercept(X.shape[1], loss.n_outputs))
        if partial:
            self.n_iter_ = getattr(self, "n_iter_", 0) + result.n_iter
            self.loss_curve_ = getattr(self, "loss_curve_", []) + result.loss_curve
        else:
            self.n_iter_ = result.n_iter
            self.loss_curve_ = result.loss_curve
            if self.early_stopping:
                self.validation_scores_ = result.validation_scores
                self.best_validation_score_ = result.best_validation_score
            else:
                self.validation_scores_ = None
                self.best_validation_score_ = None
        self.t_ = state.step
        return self

    def _alpha_for(self, sw, train_rows, n_samples):
        """The penalty strength of skce's objective (None: self.alpha)."""
        return None

    def _set_coef(self, coef, intercept):
        """Store coef (n_outputs, n_features) and intercept (n_outputs,)."""
        self.coef_, self.intercept_ = coef, intercept

    def _get_coef(self):
        """(coef_, intercept_) as (n_outputs, n_features), (n_outputs,) arrays."""
        return self.coef_, self.intercept_

    def _state_for_partial_fit(self, n_features, n_outputs, dtype, first):
        """The solver state a partial_fit call continues from."""
        if first:
            self._rng = check_random_state(self.random_state)
            return SolverState.new(n_features, n_outputs, dtype, self._eta0(),
                                   average=self.average)
        state = self._solver_state.astype(dtype).copy()
        if self.average != (state.average is not None):   # changed with set_params
            state.average = state.theta.copy() if self.average else None
        coef, intercept = self._get_coef()
        model = np.concatenate([np.asarray(coef, dtype).T.ravel(),
                                np.asarray(intercept, dtype).ravel()])
        if not np.array_equal(model, state.model):   # coef_ was edited by the user
            state.set_model(model)
        if state.eta0 != self._eta0():   # eta0 or solver changed with set_params
            state.eta = state.eta0 = self._eta0()
        return state

    def _validation_split(self, n, y, rng):
        stratify = y if self._stratify_validation else None
        idx = np.arange(n)
        try:
            train_rows, val_rows = train_test_split(
                idx, test_size=self.validation_fraction, random_state=rng, stratify=stratify)
        except ValueError as exc:
            raise ValueError(
                f"early_stopping could not set aside validation_fraction="
                f"{self.validation_fraction} of the {n} samples ({exc}); use more samples, a "
                "larger validation_fraction, or early_stopping=False") from exc
        if len(val_rows) == 0 or len(train_rows) == 0:
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves an empty "
                             f"training or validation set with {n} samples")
        return np.sort(train_rows), np.sort(val_rows)

    def _make_validation_score(self, X, val_rows, sw):
        y_val = self._validation_targets(val_rows)
        sw_val = None if sw is None else sw[val_rows]

        def score(coef, intercept, chunk=4096):
            parts = [self._decision_from(X[val_rows[i:i + chunk]], coef, intercept)
                     for i in range(0, len(val_rows), chunk)]
            return self._score_decision(np.concatenate(parts), y_val, sw_val)
        return score

    @staticmethod
    def _decision_from(X, coef, intercept):
        scores = X @ coef.T + intercept
        return np.asarray(scores)

    def _initial_state(self, n_features, n_outputs, dtype, reuse):
        coef = intercept = None
        if reuse and getattr(self, "coef_", None) is not None:
            coef, intercept = self._get_coef()
            if coef.shape != (n_outputs, n_features):
                raise ValueError(
                    f"warm_start: the stored coef_ has shape {coef.shape}, but this data needs "
                    f"{(n_outputs, n_features)}; fit with warm_start=False")
        return SolverState.new(n_features, n_outputs, dtype, self._eta0(), coef, intercept,
                               average=self.average)


class _BaseSGDClassifier(LinearClassifierMixin, _BaseSGD):
    """The classifier side shared by SoftmaxClassifier and LinearSVM: classes_,
    label encoding, class weights, fit / partial_fit and validation accuracy.
    Subclasses say how encoded labels become a LossSpec (`_loss_spec`)."""

    _multi_output = False
    _y_numeric = False
    _stratify_validation = True

    _parameter_constraints = {
        **_BaseSGD._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _loss_spec(self, y_idx, dtype):
        raise NotImplementedError

    # -- targets -------------------------------------------------------------
    def _encode(self, y):
        """Class indices (int64) of y in classes_; error for unknown labels."""
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            bad = np.unique(np.asarray(y)[unknown])[:5]
            raise ValueError(f"y contains labels {bad.tolist()} not in classes "
                             f"{self.classes_.tolist()}; pass every label in `classes` on the "
                             "first call to partial_fit")
        return idx.astype(np.int64)

    def _class_weight_vector(self, y_idx):
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            return compute_class_weight("balanced", classes=np.arange(len(self.classes_)),
                                        y=y_idx)
        bad = {k: v for k, v in self.class_weight.items()
               if not (isinstance(v, Real) and np.isfinite(v) and v >= 0)}
        if bad:
            raise ValueError(f"class_weight must map classes to finite, non-negative weights; "
                             f"got {bad}. Use 0 to ignore a class")
        return compute_class_weight(self.class_weight, classes=self.classes_,
                                    y=self.classes_[y_idx])

    def _validation_targets(self, val_rows):
        return self._y_idx_fit[val_rows]

    def _score_decision(self, scores, y_idx, sw):
        pred = (scores.ravel() > 0).astype(np.int64) if scores.shape[1] == 1 \
            else scores.argmax(axis=1)
        return float(np.average(pred == y_idx, weights=sw))

    # -- fitting -------------------------------------------------------------
    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, callback=None):
        """Fit on X (n_samples, n_features), dense or CSR, and labels y.

        callback(epoch, coef, intercept, objective), if given, is called
        after every epoch with copies of the current parameters (shaped
        (n_outputs, n_features) and (n_outputs,)); returning True stops
        training.
        """
        self._check_hyperparameters()
        X, y = self._validate_X_y(X, y, reset=True)
        check_classification_targets(y)
        classes, y_idx = _unique_labels(y)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; y "
                             f"has only one class: {classes.tolist()}")
        reuse = self.warm_start and hasattr(self, "classes_") and \
            np.array_equal(self.classes_, classes)
        self.classes_ = classes
        sw = self._weights(X, sample_weight, y_idx)
        loss = self._loss_spec(y_idx, X.dtype)
        state = self._initial_state(X.shape[1], loss.n_outputs, X.dtype, reuse)
        self._y_idx_fit = y_idx
        try:
            return self._run(X, loss, sw, state, max_iter=self.max_iter, partial=False,
                             y_for_split=y_idx, callback=callback)
        finally:
            del self._y_idx_fit

    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y). `classes` (all labels) is required on the first call."""
        self._check_hyperparameters()
        first = not hasattr(self, "classes_")
        X, y = self._validate_X_y(X, y, reset=first, allow_empty=True)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(all the labels the model will see)")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError(f"classes must hold at least 2 labels; got {classes.tolist()}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={np.unique(classes).tolist()} differs from the classes "
                             f"of the first partial_fit call {self.classes_.tolist()}")
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs all of y and is not supported by "
                             "partial_fit; pass a dict of class weights instead")
        if X.shape[0] == 0:
            return self
        check_classification_targets(y)
        if first:
            self.classes_ = classes
        y_idx = self._encode(y)
        sw = self._weights(X, sample_weight, y_idx)
        loss = self._loss_spec(y_idx, X.dtype)
        state = self._state_for_partial_fit(X.shape[1], loss.n_outputs, X.dtype, first)
        return self._run(X, loss, sw, state, max_iter=1, partial=True)


class SoftmaxClassifier(_BaseSGDClassifier):
    """Multinomial logistic regression (softmax cross-entropy) trained by
    minibatch SGD or Adam in compiled, OpenMP-parallel code.

    A true multinomial model (one joint softmax over the classes, not
    one-vs-rest); binary problems use one logit and the logistic loss, as
    scikit-learn's LogisticRegression.  The objective is the weighted mean
    cross-entropy plus ``alpha`` times the penalty (see `skce.solver`); with
    ``alpha = 1 / (C * n_samples)`` and ``penalty="l2"`` its optimum is
    LogisticRegression(C=C)'s.

    Parameters
    ----------
    solver : {"adam", "sgd"}, default="adam"
        torch.optim.Adam (beta_1, beta_2, epsilon, amsgrad; AdamW with
        decoupled_weight_decay) or torch.optim.SGD (momentum, dampening,
        nesterov).
    learning_rate : {"constant", "adaptive", "invscaling", "cosine"}, default="constant"
        Schedule of the step size: eta0; eta0 divided by 5 each time the
        objective (or validation score) did not improve by tol for
        n_iter_no_change epochs, training stops once it is below 1e-6 (as
        scikit-learn's); eta0 / t**power_t (t = steps); eta0 decayed to 0
        along half a cosine over max_iter epochs.  With ``average=True`` a
        constant step is enough: averaging removes the minibatch noise that
        a decaying step would otherwise have to.
    eta0 : float or None, default=None
        Initial learning rate (torch's ``lr``); None: 0.01 for Adam, 0.1 for
        SGD (with momentum 0.9), measured good on standardized data.
    power_t : float, default=0.5
    batch_size : int, default=256
        Rows per minibatch (larger than n_samples: full batch).
    max_iter : int, default=100
        Epochs (passes over the data).
    tol : float or None, default=1e-3
        Stop (or, with learning_rate="adaptive", lower the step) when the
        epoch's objective has not improved by tol for n_iter_no_change epochs
        (with early_stopping: the validation accuracy).
    n_iter_no_change : int, default=2
    early_stopping : bool, default=False
        Hold out validation_fraction of the data (stratified), stop on its
        accuracy, and keep the best validated coefficients.
    validation_fraction : float, default=0.1
    alpha : float, default=1e-4
        Regularization strength.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
    l1_ratio : float, default=0.15
        Share of L1 in elasticnet.
    momentum, dampening, nesterov : SGD options (default 0.9, 0, False).
    beta_1, beta_2, epsilon, amsgrad : Adam options (default 0.9, 0.999, 1e-8, False).
    decoupled_weight_decay : bool, default=False
        With Adam: apply the L2 part as AdamW's decoupled decay.
    class_weight : dict, "balanced" or None
        Multiplies each sample's weight by its class's weight.
    label_smoothing : float in [0, 1], default=0
        As torch's cross_entropy (binary: targets y(1-e) + e/2).
    fit_intercept : bool, default=True
    shuffle : bool, default=True
        Shuffle the rows every epoch.
    average : bool, default=True
        The model (coef_, intercept_, what callbacks, validation and
        loss_curve_ see) is the mean of the iterates over the steps of the
        last epoch (partial_fit: of the call), while training continues from
        the last iterate.  Unlike SGDClassifier's ``average`` (a mean from a
        given step on), the mean restarts every epoch, so it never lags far
        behind.  Measured: on a noisy 240,000-row set the first epoch's mean
        matches LogisticRegression's accuracy, while the iterates of a
        constant step stay 1.4 pt short.  Costs one pass over the data per
        epoch without steps, for the exact objective.
    warm_start : bool, default=False
        fit starts from the previous coef_ and intercept_.
    random_state : int, RandomState or None
        Shuffling and the validation split.  Results do not depend on n_jobs.
    verbose : int, default=0
        Print one line per epoch.
    n_jobs : int or None
        Threads of the compiled kernels (None: all OpenMP offers, honouring
        OMP_NUM_THREADS and threadpoolctl; -1: all CPUs).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
        Of X's dtype (float32 input trains in float32).
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
        Epochs run.
    t_ : int
        Optimizer steps taken.
    loss_curve_ : list of float
        Objective (weighted mean training loss + penalty) per epoch: that of
        the averaged model after the epoch with ``average=True``; else the
        mean of the minibatch losses during the epoch.
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_features_in_, feature_names_in_
    """

    _parameter_constraints = {
        **_BaseSGDClassifier._parameter_constraints,
        "label_smoothing": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, solver="adam", learning_rate="constant", eta0=None, power_t=0.5,
                 batch_size=256, max_iter=100, tol=1e-3, n_iter_no_change=2,
                 early_stopping=False, validation_fraction=0.1, alpha=1e-4, penalty="l2",
                 l1_ratio=0.15, momentum=0.9, dampening=0.0, nesterov=False, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, amsgrad=False, decoupled_weight_decay=False,
                 class_weight=None, label_smoothing=0.0, fit_intercept=True, shuffle=True,
                 average=True, warm_start=False, random_state=None, verbose=0, n_jobs=None):
        self.solver = solver
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.alpha = alpha
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.decoupled_weight_decay = decoupled_weight_decay
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.average = average
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _loss_spec(self, y_idx, dtype):
        K = len(self.classes_)
        if K == 2:
            eps = self.label_smoothing
            Y = (y_idx == 1).astype(dtype).reshape(-1, 1)
            if eps:
                Y = Y * (1 - eps) + eps / 2
            return LossSpec(kind=_solver.BCE, n_outputs=1, Y=np.ascontiguousarray(Y, dtype))
        return LossSpec(kind=_solver.CROSS_ENTROPY, n_outputs=K, y=y_idx,
                        label_smoothing=self.label_smoothing)

    # -- prediction ----------------------------------------------------------
    def _logits(self, X):
        scores = self.decision_function(X)
        big = np.finfo(scores.dtype).max
        return np.clip(scores, -big, big)   # +-inf scores would give NaN probabilities

    def predict_proba(self, X):
        """Class probabilities (stable softmax; never NaN even for huge coefficients)."""
        check_is_fitted(self)
        z = self._logits(X)
        if z.ndim == 1:   # expit(-z), not 1 - expit(z): no cancellation
            return np.column_stack([expit(-z), expit(z)])
        return losses.softmax(z, dim=1)

    def predict_log_proba(self, X):
        check_is_fitted(self)
        z = self._logits(X)
        if z.ndim == 1:
            return np.column_stack([log_expit(-z), log_expit(z)])
        return losses.log_softmax(z, dim=1)


_OPTIMIZER_PARAMS_DOC = """    solver, learning_rate, eta0, power_t, batch_size, max_iter, tol,
    n_iter_no_change, early_stopping, validation_fraction, momentum, dampening,
    nesterov, beta_1, beta_2, epsilon, amsgrad, decoupled_weight_decay,
    fit_intercept, shuffle, average, warm_start, random_state, verbose, n_jobs
        The training loop's options, with the meanings documented in
        SoftmaxClassifier (the same loop, `skce.solver.train`, runs here)."""


class LinearSVM(_BaseSGDClassifier):
    """Linear support vector machine (hinge or squared hinge loss) trained by
    minibatch SGD or Adam on skce's compiled solver core.

    Binary problems: one weight vector, ``decision_function`` of shape (n,),
    the hinge loss ``max(0, margin - y f(x))`` (squared with
    ``loss="squared_hinge"``) on labels y = +-1.  More classes:
    ``multi_class="ovr"`` trains one binary margin problem per class, all in
    one pass (the per-row loss is the sum over classes);
    ``multi_class="crammer_singer"`` trains the joint multiclass margin
    ``max(0, margin + max_{j != y} f_j(x) - f_y(x))`` (squared with
    ``loss="squared_hinge"``).

    Regularization is given as scikit-learn's ``LinearSVC``'s ``C``.
    LinearSVC minimizes ``1/2 ||w||^2 + C sum_i s_i loss_i``, which is
    ``C S`` times skce's objective ``sum_i s_i loss_i / S + alpha/2 ||w||^2``
    (see `skce.solver`) with ``alpha = 1 / (C S)``, where S is the sum of the
    sample weights times the class weights of the training rows (the number
    of training rows when unweighted; after the early-stopping split, of the
    rows trained on; in partial_fit, of the rows of the call).  The two
    problems therefore have the same optimum, except that LinearSVC also
    penalizes its intercept (through ``intercept_scaling``) and skce does
    not: with ``fit_intercept=False`` on both they agree.  ``penalty="l1"``
    / ``"elasticnet"`` use the same strength ``1 / (C S)``.

    Parameters
    ----------
    C : float > 0, default=1.0
        Inverse regularization strength, as in LinearSVC.
    loss : {"hinge", "squared_hinge"}, default="squared_hinge"
    multi_class : {"ovr", "crammer_singer"}, default="ovr"
        Used for three or more classes.
    margin : float > 0, default=1.0
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
    l1_ratio : float, default=0.15
    class_weight : dict, "balanced" or None
        Multiplies each sample's weight (LinearSVC's C_i = C class_weight_i).
""" + _OPTIMIZER_PARAMS_DOC + """

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    alpha_ : float
        The penalty strength 1 / (C S) of the last fit / partial_fit call.
    n_iter_, t_, loss_curve_, validation_scores_, best_validation_score_,
    n_features_in_, feature_names_in_ : as SoftmaxClassifier.

    There is no ``predict_proba``: wrap the model in
    ``sklearn.calibration.CalibratedClassifierCV`` for probabilities.
    """

    _parameter_constraints = {
        **{k: v for k, v in _BaseSGDClassifier._parameter_constraints.items() if k != "alpha"},
        "C": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions({"hinge", "squared_hinge"})],
        "multi_class": [StrOptions({"ovr", "crammer_singer"})],
        "margin": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, C=1.0, loss="squared_hinge", multi_class="ovr", margin=1.0,
                 penalty="l2", l1_ratio=0.15, solver="adam", learning_rate="constant",
                 eta0=0.01, power_t=0.5, batch_size=256, max_iter=100, tol=1e-4,
                 n_iter_no_change=5, early_stopping=False, validation_fraction=0.1,
                 momentum=0.9, dampening=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, amsgrad=False, decoupled_weight_decay=False, class_weight=None,
                 fit_intercept=True, shuffle=True, average=True, warm_start=False,
                 random_state=None, verbose=0, n_jobs=None):
        self.C = C
        self.loss = loss
        self.multi_class = multi_class
        self.margin = margin
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.decoupled_weight_decay = decoupled_weight_decay
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.average = average
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _alpha_for(self, sw, train_rows, n_samples):
        if sw is None:
            total = n_samples if train_rows is None else len(train_rows)
        else:
            total = float(sw.sum() if train_rows is None else sw[train_rows].sum())
        self.alpha_ = 1.0 / (self.C * total)
        return self.alpha_

    def _loss_spec(self, y_idx, dtype):
        K = len(self.classes_)
        squared = self.loss == "squared_hinge"
        if K > 2 and self.multi_class == "crammer_singer":
            return LossSpec(kind=_solver.MULTI_MARGIN, n_outputs=K, y=y_idx,
                            margin=self.margin, squared=squared, crammer_singer=True)
        if K == 2:
            Y = np.where(y_idx == 1, 1, -1).astype(dtype).reshape(-1, 1)
        else:
            Y = np.full((len(y_idx), K), -1, dtype=dtype)
            Y[np.arange(len(y_idx)), y_idx] = 1
        return LossSpec(kind=_solver.HINGE, n_outputs=Y.shape[1], Y=np.ascontiguousarray(Y),
                        margin=self.margin, squared=squared)


class LinearRegressor(RegressorMixin, _BaseSGD):
    """Linear least-squares or Huber regression, single or multi-output,
    trained by minibatch SGD or Adam on skce's compiled solver core.

    Objective (s_i sample weights, S their sum, r_ik = y_ik - f_k(x_i))::

        sum_i s_i sum_k loss(r_ik) / S + alpha * penalty(W)

    with ``loss(r) = r^2 / 2`` for ``loss="squared_error"`` (the squared
    error kernel scaled by 1/2, as SGDRegressor's) and, for ``loss="huber"``,
    torch's ``huber_loss``: ``r^2 / 2`` where ``|r| < delta``, else
    ``delta (|r| - delta / 2)`` (gradient ``clip(r, -delta, delta)``; the
    same as SGDRegressor(loss="huber", epsilon=delta)).  With the L2 penalty,
    ``alpha = a / S`` gives ``Ridge(alpha=a)``'s optimum: Ridge minimizes
    ``sum_i s_i ||y_i - f(x_i)||^2 + a ||W||^2``, which is 2 S times skce's
    objective.  The intercept is not penalized (as Ridge).

    Parameters
    ----------
    loss : {"squared_error", "huber"}, default="squared_error"
    delta : float > 0, default=1.0
        Huber's threshold on the residual (in units of y).
    alpha : float >= 0, default=1e-4
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
    l1_ratio : float, default=0.15
""" + _OPTIMIZER_PARAMS_DOC + """
        Early stopping monitors the validation R^2.  Here ``average``
        defaults to False (with learning_rate="adaptive"): on make_regression
        the epoch mean reaches Ridge's R^2 - 0.001 one epoch later than the
        iterate, since the regression's first epoch is all descent, no noise.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) for one target, else (n_targets, n_features)
        Of X's dtype (float32 X trains in float32; y is converted to X's dtype).
    intercept_ : float (1-D y) or ndarray of shape (n_targets,)
        0.0 with fit_intercept=False.  The shapes are Ridge's (also for y of
        shape (n, 1): coef_ (n_features,), intercept_ (1,)).
    n_iter_, t_, loss_curve_, validation_scores_, best_validation_score_,
    n_features_in_, feature_names_in_ : as SoftmaxClassifier.
    """

    _multi_output = True
    _y_numeric = True
    _stratify_validation = False

    _parameter_constraints = {
        **_BaseSGD._parameter_constraints,
        "loss": [StrOptions({"squared_error", "huber"})],
        "delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, loss="squared_error", delta=1.0, alpha=1e-4, penalty="l2",
                 l1_ratio=0.15, solver="sgd", learning_rate="adaptive", eta0=0.003,
                 power_t=0.5, batch_size=256, max_iter=100, tol=1e-4, n_iter_no_change=5,
                 early_stopping=False, validation_fraction=0.1, momentum=0.9, dampening=0.0,
                 nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, amsgrad=False,
                 decoupled_weight_decay=False, fit_intercept=True, shuffle=True,
                 average=False, warm_start=False, random_state=None, verbose=0, n_jobs=None):
        self.loss = loss
        self.delta = delta
        self.alpha = alpha
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.decoupled_weight_decay = decoupled_weight_decay
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.average = average
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    # -- targets and coefficients ---------------------------------------------
    def _targets(self, X, y):
        """y as a C-contiguous (n, n_outputs) array of X's dtype."""
        Y = np.asarray(y).reshape(X.shape[0], -1)
        return np.ascontiguousarray(Y, dtype=X.dtype)

    def _loss_spec(self, Y):
        if self.loss == "huber":
            return LossSpec(kind=_solver.HUBER, n_outputs=Y.shape[1], Y=Y, delta=self.delta)
        return LossSpec(kind=_solver.SQUARED, n_outputs=Y.shape[1], Y=Y, scale=0.5)

    def _set_coef(self, coef, intercept):
        """Ridge's shapes: coef_ (n_features,) for one target (also for y of
        shape (n, 1)); intercept_ a scalar for 1-D y, 0.0 without intercept."""
        self._n_outputs = coef.shape[0]
        self.coef_ = coef[0] if coef.shape[0] == 1 else coef
        if not self.fit_intercept:
            self.intercept_ = 0.0
        else:
            self.intercept_ = intercept[0] if self._y_1d else intercept

    def _get_coef(self):
        coef = np.asarray(self.coef_)
        coef = coef.reshape(1, -1) if coef.ndim == 1 else coef
        intercept = np.broadcast_to(np.asarray(self.intercept_), (coef.shape[0],))
        return coef, intercept

    def _validation_targets(self, val_rows):
        return self._Y_fit[val_rows]

    def _score_decision(self, scores, Y, sw):
        return float(r2_score(Y, scores, sample_weight=sw))

    # -- fitting -------------------------------------------------------------
    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, callback=None):
        """Fit on X (n_samples, n_features), dense or CSR, and y (n_samples,) or
        (n_samples, n_targets).

        callback(epoch, coef, intercept, objective), if given, is called
        after every epoch with copies of the current parameters (shaped
        (n_outputs, n_features) and (n_outputs,)); returning True stops
        training.
        """
        self._check_hyperparameters()
        X, y = self._validate_X_y(X, y, reset=True)
        Y = self._targets(X, y)
        reuse = self.warm_start and getattr(self, "_y_1d", None) == (np.ndim(y) == 1)
        self._y_1d = np.ndim(y) == 1
        sw = self._weights(X, sample_weight, None)
        loss = self._loss_spec(Y)
        state = self._initial_state(X.shape[1], loss.n_outputs, X.dtype, reuse)
        self._Y_fit = Y
        try:
            return self._run(X, loss, sw, state, max_iter=self.max_iter, partial=False,
                             callback=callback)
        finally:
            del self._Y_fit

    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y); y has the shape (1-D or 2-D, number of
        targets) of the first call."""
        self._check_hyperparameters()
        first = not hasattr(self, "_solver_state")
        if _num_samples(X) == 0:   # an empty block is a no-op (y's checks need a row)
            validate_data(self, X, accept_sparse="csr", reset=first, ensure_min_samples=0)
            return self
        X, y = self._validate_X_y(X, y, reset=first)
        Y = self._targets(X, y)
        if first:
            self._y_1d = np.ndim(y) == 1
        else:
            n_out = self._n_outputs
            if Y.shape[1] != n_out or (np.ndim(y) == 1) != self._y_1d:
                raise ValueError(
                    f"y has shape {np.shape(y)}, but the first partial_fit call had "
                    f"{'1-D y' if self._y_1d else f'{n_out} targets (2-D y)'}; pass y of "
                    "that shape")
        sw = self._weights(X, sample_weight, None)
        loss = self._loss_spec(Y)
        state = self._state_for_partial_fit(X.shape[1], loss.n_outputs, X.dtype, first)
        return self._run(X, loss, sw, state, max_iter=1, partial=True)

    # -- prediction ----------------------------------------------------------
    def predict(self, X):
        """Predictions of shape (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return np.asarray(safe_sparse_dot(X, np.asarray(self.coef_).T, dense_output=True)
                          + self.intercept_)
