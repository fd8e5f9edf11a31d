"""scikit-learn estimators trained by minibatch SGD or Adam on skce's kernels.

Every estimator here picks a loss kernel (a `skce.solver.LossSpec`) and hands
it, with its hyperparameters, to the one training loop `skce.solver.train`.
"""
import functools
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skce import _solver, losses
from skce._config import effective_n_threads
from skce.solver import LossSpec, OptimizerSpec, SolverState, train

__all__ = ["SoftmaxClassifier"]


# set by fit/partial_fit before training: put back if the call fails or is interrupted
_FIT_INPUT_ATTRS = ("classes_", "n_features_in_", "feature_names_in_", "_rng")


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

    def _optimizer_spec(self):
        return OptimizerSpec(
            solver=self.solver, learning_rate=self.learning_rate, eta0=self._eta0(),
            power_t=self.power_t, alpha=self.alpha, penalty=self.penalty,
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
            X, loss, self._optimizer_spec(), state, sample_weight=sw,
            fit_intercept=self.fit_intercept, batch_size=self.batch_size, max_iter=max_iter,
            tol=self.tol, n_iter_no_change=self.n_iter_no_change, train_rows=train_rows,
            validation_score=validation_score, shuffle=self.shuffle, random_state=rng,
            n_threads=effective_n_threads(self.n_jobs), verbose=self.verbose,
            check_convergence=not partial,
            total_epochs=self.max_iter, callback=callback)
        self._rng = rng
        self._solver_state = state
        self.coef_, self.intercept_ = state.coef_intercept(X.shape[1], loss.n_outputs)
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
            coef, intercept = self.coef_, self.intercept_
            if coef.shape != (n_outputs, n_features):
                raise ValueError(
                    f"warm_start: the stored coef_ has shape {coef.shape}, but this data needs "
                    f"{(n_outputs, n_features)}; fit with warm_start=False")
        return SolverState.new(n_features, n_outputs, dtype, self._eta0(), coef, intercept)


class SoftmaxClassifier(LinearClassifierMixin, _BaseSGD):
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
    learning_rate : {"adaptive", "constant", "invscaling", "cosine"}, default="adaptive"
        Schedule of the step size: eta0, divided by 5 each time the loss (or
        validation score) did not improve by tol for n_iter_no_change epochs,
        training stops once it is below 1e-6 (measured: reaches
        LogisticRegression's accuracy on letter and a noisy 240,000-row set
        where a constant step stays 1.4 pt short); eta0; eta0 / t**power_t
        (t = steps); eta0 decayed to 0 along half a cosine over max_iter epochs.
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
        Objective (mean training loss over the epoch + penalty) per epoch.
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_features_in_, feature_names_in_
    """

    _multi_output = False
    _y_numeric = False
    _stratify_validation = True

    _parameter_constraints = {
        **_BaseSGD._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, *, solver="adam", learning_rate="adaptive", eta0=None, power_t=0.5,
                 batch_size=256, max_iter=100, tol=1e-3, n_iter_no_change=2,
                 early_stopping=False, validation_fraction=0.1, alpha=1e-4, penalty="l2",
                 l1_ratio=0.15, momentum=0.9, dampening=0.0, nesterov=False, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, amsgrad=False, decoupled_weight_decay=False,
                 class_weight=None, label_smoothing=0.0, fit_intercept=True, shuffle=True,
                 warm_start=False, random_state=None, verbose=0, n_jobs=None):
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
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

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
        after every epoch with copies of the current parameters (shaped as
        coef_ and intercept_); returning True stops training.
        """
        self._check_hyperparameters()
        X, y = self._validate_X_y(X, y, reset=True)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"SoftmaxClassifier needs samples of at least 2 classes; y has "
                             f"only one class: {classes.tolist()}")
        reuse = self.warm_start and hasattr(self, "classes_") and \
            np.array_equal(self.classes_, classes)
        self.classes_ = classes
        y_idx = y_idx.astype(np.int64)
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
        if first:
            self._rng = check_random_state(self.random_state)
            state = SolverState.new(X.shape[1], loss.n_outputs, X.dtype, self._eta0())
        else:
            state = self._solver_state.astype(X.dtype).copy()
            P = X.shape[1] * loss.n_outputs   # coef_ may have been edited by the user
            state.theta[:P] = np.asarray(self.coef_, X.dtype).T.ravel()
            state.theta[P:] = self.intercept_
            if state.eta0 != self._eta0():   # eta0 or solver changed with set_params
                state.eta = state.eta0 = self._eta0()
        return self._run(X, loss, sw, state, max_iter=1, partial=True)

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
