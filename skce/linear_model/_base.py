"""What the linear estimators share: hyperparameters, validation, the fit /
partial_fit plumbing and the classifier side (labels, class weights).

Every estimator picks a loss kernel (a `skce._solver.LossSpec`) and hands
it, with its hyperparameters, to the one training loop `skce._solver.train`.
"""
import copy
import functools
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skce._config import effective_n_threads
from skce._loss import LOSSES
from skce._solver import OptimizerSpec, SolverState, train
from skce._validation import check_sparse_structure
from skce._solver._lbfgs import check_lbfgs, fit_lbfgs
from skce._solver._newton import check_newton, fit_newton
from skce._solver._objective import intercept_only


def _unchanged_on_error(method):
    """fit/partial_fit leave the estimator as it was when they raise (even
    KeyboardInterrupt, at any line): its attributes are snapshot before the
    call and, on any exception, put back in one step (one assignment, so a
    second Ctrl-C cannot interrupt it half-way).  What the call mutates in
    place instead of replacing (partial_fit's random stream) is copied
    first (see `_run`)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__ = saved
            raise
    return wrapper


def _check_labels(values, name):
    """np.unique(values, return_inverse=True), with a clear error for labels
    of mixed types (NumPy's is "'<' not supported between ...")."""
    try:
        return np.unique(values, return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in np.asarray(values, dtype=object).ravel()})
        raise TypeError(f"{name} mixes labels of types {kinds}, which cannot be sorted into "
                        "classes_; use labels of one type, e.g. all strings "
                        f"(np.asarray({name}).astype(str)) or all integers") from None


def _check_classification_targets(y):
    """scikit-learn's check, with the cause named where it only says
    "Unknown label type: unknown" (object labels of mixed types, or Python
    ints beyond int64)."""
    try:
        check_classification_targets(y)
    except ValueError as exc:
        if "unknown" not in str(exc):
            raise
        values = np.asarray(y, dtype=object).ravel()
        kinds = sorted({type(v).__name__ for v in values})
        if len(kinds) > 1:
            raise TypeError(f"Unknown label type: y mixes labels of types {kinds}; use labels "
                            "of one type, e.g. all strings (np.asarray(y).astype(str)) or all "
                            "integers") from None
        big = max(values, key=abs) if kinds == ["int"] else 0
        if abs(big) >= 2**63:
            raise ValueError(f"Unknown label type: y holds integer labels beyond the int64 "
                             f"range (e.g. {big}); encode them first, e.g. with "
                             "np.asarray(y).astype(str) or sklearn.preprocessing.LabelEncoder"
                             ) from None
        raise ValueError(f"{exc} (y holds values of type {kinds})") from None


# the solvers that need all the data at every step (svrg: for its snapshots'
# full gradient): fit only, no partial_fit nor early_stopping
FULL_DATA_SOLVERS = ("lbfgs", "svrg", "newton-cholesky")


def _check_minibatch_solver(est):
    """partial_fit exists for the minibatch solvers only (as MLPClassifier's)."""
    if est.solver in FULL_DATA_SOLVERS:
        raise AttributeError(f"partial_fit needs a minibatch solver (solver='sgd' or 'adam'); "
                             f"solver={est.solver!r} needs all the data's full gradient: "
                             "use fit")
    return True


minibatch_only = available_if(_check_minibatch_solver)


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
    classes, y_idx = _check_labels(y, "y")
    return classes, y_idx.astype(np.int64).ravel()


class _BaseSGD(BaseEstimator):
    """Hyperparameters, validation and the fit / partial_fit plumbing shared
    by the estimators; subclasses say how targets become a LossSpec."""

    _parameter_constraints = {
        "solver": [StrOptions({"auto", "sgd", "adam", "rmsprop", "adagrad", "lbfgs", "svrg",
                                "newton-cholesky"})],
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
        "momentum": [Interval(Real, 0, 1, closed="left"), None],
        "dampening": [Interval(Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "amsgrad": ["boolean"],
        "decoupled_weight_decay": ["boolean"],
        "rho": [Interval(Real, 0, 1, closed="both")],
        "centered": ["boolean"],
        "lr_decay": [Interval(Real, 0, None, closed="left")],
        "initial_accumulator_value": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "shuffle": ["boolean"],
        "average": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
    }

    def _store_params(self, params):
        """Store every __init__ argument unchanged under its own name, the
        scikit-learn convention get_params and clone rely on (validation
        waits for fit).  params: locals() taken first thing in an __init__,
        so it holds exactly that __init__'s arguments."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # eta0=None: measured on standardized digits and letter (see README)
    # lbfgs has no learning rate (its line search sets each step), svrg
    # derives its own from the data (skce._solver._svrg)
    _DEFAULT_ETA0 = {"adam": 0.01, "sgd": 0.1, "rmsprop": 0.01, "adagrad": 0.1, "lbfgs": 0.0,
                     "svrg": 0.0, "newton-cholesky": 0.0}

    # solver="auto": the minibatch solver of partial_fit, early_stopping and
    # non-smooth losses (the estimator's former default); Newton's method up
    # to this many features x outputs (a Newton iteration builds one d x d
    # Hessian block per output, about d / 10 gradient passes each: on a9a,
    # 123 features, 6 iterations to 1e-8 against lbfgs's 200; one-vs-rest
    # LinearSVM on letter, 16 x 26, took 0.26 s against lbfgs's 0.09, on the
    # 240,000 x 100 synthetic set, 10 classes, 6.2 s against 0.41)
    _AUTO_MINIBATCH = "adam"
    AUTO_NEWTON_SIZE = 200

    def _choose_solver(self, n_features, n_outputs, loss, partial):
        """The solver this fit / partial_fit runs (solver_): `solver`, or
        for solver="auto" the exact full-batch solver of the objective --
        newton-cholesky (elementwise losses, L2, few features x outputs) or lbfgs
        (OWL-QN with L1) -- and the minibatch one where none applies."""
        if self.solver != "auto":
            return self.solver
        info = LOSSES[loss.name]
        # (Crammer-Singer's max over the classes is not differentiable where
        # two tie: the full-batch solvers would stall there, see check_svrg)
        if partial or self.early_stopping or not info.smooth or loss.crammer_singer:
            return self._AUTO_MINIBATCH
        l1 = self.penalty in ("l1", "elasticnet") and (self.penalty == "l1" or self.l1_ratio > 0)
        if "newton-cholesky" in info.solvers and not l1 \
                and n_features * n_outputs <= self.AUTO_NEWTON_SIZE:
            return "newton-cholesky"
        return "lbfgs"

    def _solver(self):
        """The solver of the running (or last) fit: solver_ for solver="auto"."""
        return getattr(self, "solver_", self._AUTO_MINIBATCH) if self.solver == "auto" \
            else self.solver

    def _eta0(self):
        """eta0, or the measured default of the solver (_DEFAULT_ETA0)."""
        if self.eta0 is not None:
            return float(self.eta0)
        return self._DEFAULT_ETA0[self._solver()]

    def _momentum(self):
        """momentum, or the solver's default: SGD 0.9, RMSprop 0 (torch's); unused otherwise."""
        if self.momentum is not None:
            return float(self.momentum)
        return 0.9 if self._solver() == "sgd" else 0.0

    def _optimizer_spec(self, alpha=None):
        return OptimizerSpec(
            solver=self._solver(), learning_rate=self.learning_rate, eta0=self._eta0(),
            power_t=self.power_t, alpha=self.alpha if alpha is None else alpha,
            penalty=self.penalty,
            l1_ratio=self.l1_ratio, momentum=self._momentum(), dampening=self.dampening,
            nesterov=self.nesterov, beta_1=self.beta_1, beta_2=self.beta_2,
            epsilon=self.epsilon, amsgrad=self.amsgrad,
            decoupled_weight_decay=self.decoupled_weight_decay, rho=self.rho,
            centered=self.centered, lr_decay=self.lr_decay,
            initial_accumulator_value=self.initial_accumulator_value)

    def _check_hyperparameters(self):
        if self.nesterov and (self.solver != "sgd" or self.dampening or (
                self.momentum is not None and self.momentum <= 0)):
            raise ValueError("nesterov=True needs solver='sgd', momentum > 0 and dampening=0 "
                             "(as torch.optim.SGD)")
        if self.solver in FULL_DATA_SOLVERS and self.early_stopping:
            raise ValueError(f"early_stopping=True needs solver='sgd' or 'adam'; "
                             f"solver={self.solver!r} minimizes the full training objective "
                             "(stop it with tol / max_iter)")
        effective_n_threads(self.n_jobs, name="n_jobs")   # checked before any data work
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, Integral) and not isinstance(value, bool) \
                    and abs(value) > 2**1023 and self._parameter_constraints.get(name) and \
                    any(getattr(c, "type", None) is Real
                        for c in self._parameter_constraints[name]):
                raise ValueError(f"{name} is an integer of {value.bit_length()} bits, beyond "
                                 "float64's range (~1.8e308); give a finite float")

    def _validate_X_y(self, X, y, reset, allow_empty=False):
        check_sparse_structure(X)   # before scipy or scikit-learn index into its arrays
        if sp.issparse(y):
            if not self._multi_output:
                raise ValueError(f"y must be a 1-D array of labels; got a sparse matrix of "
                                 f"shape {y.shape}: pass y.toarray().ravel()")
            y = check_sparse_structure(y, "y").toarray()   # targets: small enough to densify
        try:
            return validate_data(
                self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order=None,
                reset=reset, multi_output=self._multi_output, y_numeric=self._y_numeric,
                ensure_min_samples=0 if allow_empty else 1)
        except OverflowError as exc:   # Python ints in an object array
            raise ValueError(f"X or y holds an integer too large for float64 ({exc}); "
                             "rescale or drop those values") from exc
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
        except OverflowError as exc:
            raise ValueError(f"sample_weight holds an integer too large for float64 ({exc}); "
                             "give finite weights") from exc
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
        """Train `state` (a private copy) and, on success, store the result in
        one step (the random stream included: partial_fit shuffles a copy)."""
        rng = check_random_state(self.random_state) if not partial \
            else copy.deepcopy(self._rng)
        solver = self._solver()
        if solver in ("lbfgs", "newton-cholesky"):
            # the full-batch solvers (fit only: partial_fit is minibatch_only)
            alpha = self._alpha_for(sw, None, X.shape[0])
            opt = self._optimizer_spec(alpha)
            if solver == "lbfgs":
                check_lbfgs(LOSSES[loss.name], opt)
                fit_full = fit_lbfgs
            else:
                check_newton(LOSSES[loss.name], opt, X.shape[1])
                fit_full = fit_newton
            result = fit_full(
                X, loss, opt, state, sample_weight=sw, fit_intercept=self.fit_intercept,
                max_iter=max_iter, tol=self._tol(), n_threads=effective_n_threads(self.n_jobs),
                verbose=self.verbose, callback=callback)
        else:
            train_rows, validation_score = None, None
            if self.early_stopping and not partial:
                train_rows, val_rows = self._validation_split(X.shape[0], y_for_split, rng)
                validation_score = self._make_validation_score(X, val_rows, sw)
            alpha = self._alpha_for(sw, train_rows, X.shape[0])
            result = train(
                X, loss, self._optimizer_spec(alpha),
                state, sample_weight=sw,
                fit_intercept=self.fit_intercept, batch_size=self.batch_size,
                max_iter=max_iter, tol=self._tol(), n_iter_no_change=self.n_iter_no_change,
                train_rows=train_rows, validation_score=validation_score,
                shuffle=self.shuffle, random_state=rng,
                n_threads=effective_n_threads(self.n_jobs), verbose=self.verbose,
                check_convergence=not partial,
                total_epochs=self.max_iter, callback=callback)
        new = {"_rng": rng, "_solver_state": state, "t_": state.step}
        if alpha is not None:
            new["alpha_"] = alpha
        if partial:
            new["n_iter_"] = getattr(self, "n_iter_", 0) + result.n_iter
            new["loss_curve_"] = getattr(self, "loss_curve_", []) + result.loss_curve
        else:
            new["n_iter_"] = result.n_iter
            new["loss_curve_"] = result.loss_curve
            new["validation_scores_"] = result.validation_scores if self.early_stopping \
                else None
            new["best_validation_score_"] = result.best_validation_score \
                if self.early_stopping else None
        new.update(self._coef_attrs(*state.coef_intercept(X.shape[1], loss.n_outputs)))
        self.__dict__.update(new)
        return self

    def _alpha_for(self, sw, train_rows, n_samples):
        """The penalty strength of skce's objective (None: self.alpha)."""
        return None

    def _tol(self, solver=None):
        """The stopping tolerance of `solver` (default: the fit's)."""
        return self.tol

    @staticmethod
    def _weight_total(sw, train_rows, n_samples):
        """S: the sum of the training rows' weights (sample times class
        weight; their count without weights), the scale of scikit-learn's C."""
        if sw is None:
            return n_samples if train_rows is None else len(train_rows)
        return float(sw.sum() if train_rows is None else sw[train_rows].sum())

    def _coef_attrs(self, coef, intercept):
        """The attributes that store coef (n_outputs, n_features) and
        intercept (n_outputs,)."""
        return {"coef_": coef, "intercept_": intercept}

    def _get_coef(self):
        """(coef_, intercept_) as (n_outputs, n_features), (n_outputs,) arrays."""
        return self.coef_, self.intercept_

    def _state_for_partial_fit(self, n_features, n_outputs, dtype, first, loss):
        """The solver state a partial_fit call continues from."""
        self.solver_ = self._choose_solver(n_features, n_outputs, loss, partial=True)
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

    def _initial_state(self, n_features, n_outputs, dtype, reuse, loss=None, sw=None):
        """The state fit starts from: the previous coef_ / intercept_ with
        warm_start (`reuse`), else zero weights and, with fit_intercept, the
        best intercept of a model without features (`intercept_only` of
        `loss`, weighted by sw).  Sets solver_, the solver the fit runs."""
        self.solver_ = self._choose_solver(n_features, n_outputs, loss, partial=False)
        coef = intercept = None
        if reuse and getattr(self, "coef_", None) is not None:
            coef, intercept = self._get_coef()
            if coef.shape != (n_outputs, n_features):
                raise ValueError(
                    f"warm_start: the stored coef_ has shape {coef.shape}, but this data needs "
                    f"{(n_outputs, n_features)}; fit with warm_start=False")
        elif self.fit_intercept and loss is not None:
            intercept = intercept_only(loss, sw)
        # (svrg converges without averaging: its snapshots are the iterates)
        return SolverState.new(n_features, n_outputs, dtype, self._eta0(), coef, intercept,
                               average=self.average and self.solver_ != "svrg")


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
        try:
            idx = np.searchsorted(self.classes_, y)
        except TypeError:
            raise TypeError(f"y holds labels of another type than classes_ "
                            f"({self.classes_.dtype}: {self.classes_[:5].tolist()}); pass "
                            "labels of the classes' type") from None
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
               if not (isinstance(v, Real) and abs(v) < 2**1023 and np.isfinite(float(v))
                       and v >= 0)}
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

    def decision_function(self, X):
        """Confidence scores X @ coef_.T + intercept_.

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)
            Zero rows are allowed (an empty block of a dask array gives an
            empty result); a sparse X's structure is checked first (scipy's
            product would read a bad index out of bounds).

        Returns
        -------
        scores : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
        """
        check_is_fitted(self)
        check_sparse_structure(X)
        X = validate_data(self, X, accept_sparse="csr", reset=False, ensure_min_samples=0)
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predicted class labels (the largest score's); zero rows allowed.

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Values from classes_.
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    # -- fitting -------------------------------------------------------------
    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, callback=None):
        """Fit the model to labels y, from scratch (or from the last fit with
        warm_start=True and the same classes).

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)
            float32 X is trained in float32, anything else in float64; read
            in place when its layout allows (see README, Memory).
        y : array of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array of shape (n_samples,), default=None
            Non-negative, finite row weights (None: all ones), multiplied by
            the class weights.
        callback : callable, default=None
            callback(epoch, coef, intercept, objective) after every epoch
            (L-BFGS: iteration) with copies of the current parameters,
            shaped (n_outputs, n_features) and (n_outputs,); a true return
            value stops training.

        Returns
        -------
        self : object
            The fitted estimator.  On any error it is left as it was.
        """
        self._check_hyperparameters()
        X, y = self._validate_X_y(X, y, reset=True)
        _check_classification_targets(y)
        classes, y_idx = _unique_labels(y)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; y "
                             f"has only one class: {classes.tolist()}")
        reuse = self.warm_start and hasattr(self, "classes_") and \
            np.array_equal(self.classes_, classes)
        self.classes_ = classes
        sw = self._weights(X, sample_weight, y_idx)
        loss = self._loss_spec(y_idx, X.dtype)
        state = self._initial_state(X.shape[1], loss.n_outputs, X.dtype, reuse, loss, sw)
        self._y_idx_fit = y_idx
        try:
            return self._run(X, loss, sw, state, max_iter=self.max_iter, partial=False,
                             y_for_split=y_idx, callback=callback)
        finally:
            del self._y_idx_fit

    @minibatch_only
    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of the minibatch solver over (X, y), continuing from the
        previous call (solver='lbfgs' has none: it raises).

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)
            Zero rows are a no-op.
        y : array of shape (n_samples,)
            Class labels, all in `classes`.
        classes : array of shape (n_classes,), default=None
            Every label the model will see; required on the first call,
            checked against the first call's afterwards.
        sample_weight : array of shape (n_samples,), default=None
            Non-negative, finite row weights (None: all ones).

        Returns
        -------
        self : object
        """
        self._check_hyperparameters()
        first = not hasattr(self, "classes_")
        X, y = self._validate_X_y(X, y, reset=first, allow_empty=True)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit "
                                 "(all the labels the model will see)")
            classes = _check_labels(np.asarray(classes), "classes")[0]
            if len(classes) < 2:
                raise ValueError(f"classes must hold at least 2 labels; got {classes.tolist()}")
        elif classes is not None and not np.array_equal(
                _check_labels(np.asarray(classes), "classes")[0], self.classes_):
            raise ValueError(f"classes={np.unique(classes).tolist()} differs from the classes "
                             f"of the first partial_fit call {self.classes_.tolist()}")
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs all of y and is not supported by "
                             "partial_fit; pass a dict of class weights instead")
        if X.shape[0] == 0:
            return self
        _check_classification_targets(y)
        if first:
            self.classes_ = classes
        y_idx = self._encode(y)
        sw = self._weights(X, sample_weight, y_idx)
        loss = self._loss_spec(y_idx, X.dtype)
        state = self._state_for_partial_fit(X.shape[1], loss.n_outputs, X.dtype, first, loss)
        return self._run(X, loss, sw, state, max_iter=1, partial=True)


_OPTIMIZER_PARAMS_DOC = """    solver, learning_rate, eta0, power_t, batch_size, max_iter, tol,
    n_iter_no_change, early_stopping, validation_fraction, momentum, dampening,
    nesterov, beta_1, beta_2, epsilon, amsgrad, decoupled_weight_decay, rho,
    centered, lr_decay, initial_accumulator_value, fit_intercept, shuffle, average, warm_start, random_state, verbose, n_jobs
        The training loop's options, with the meanings documented in
        SoftmaxClassifier (the same loop, `skce._solver.train`, runs here;
        solver="lbfgs" the same full-batch solver, `skce._solver._lbfgs`,
        for smooth losses with any penalty (L1 / elastic-net by OWL-QN,
        `skce._solver._owlqn`); solver="svrg" the
        variance-reduced minibatch solver, `skce._solver._svrg`, for smooth
        losses with any penalty; tol is then their gradient tolerance)."""
