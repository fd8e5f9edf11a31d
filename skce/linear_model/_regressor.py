"""LinearRegressor: least-squares or Huber regression, single or multi-output."""
from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from skce._loss import LOSSES
from skce._solver import LossSpec
from skce._validation import check_sparse_structure
from skce.linear_model._base import (_OPTIMIZER_PARAMS_DOC, _BaseSGD, _unchanged_on_error,
                                     minibatch_only)


class LinearRegressor(RegressorMixin, _BaseSGD):
    __doc__ = """Linear least-squares or Huber regression, single or multi-output,
    trained by minibatch SGD or Adam on skce's compiled solver core, or to
    the optimum by minibatch SVRG (solver="svrg"), full-batch L-BFGS
    (solver="lbfgs") or, with at most 2,000 features, Newton's method
    (solver="newton-cholesky", one Hessian block per target, no L1; squared
    error: one step); all
    three are insensitive to the scale of X and y (svrg derives its step
    from X), which the SGD step is not.  A cold fit starts from
    the weighted mean of y as intercept.

    Objective (s_i sample weights, S their sum, r_ik = y_ik - f_k(x_i))::

        sum_i s_i sum_k loss(r_ik) / S + alpha * penalty(W)

    with ``loss(r) = r^2 / 2`` for ``loss="squared_error"`` (the squared
    error kernel scaled by 1/2, as SGDRegressor's) and, for ``loss="huber"``,
    torch's ``huber_loss``: ``r^2 / 2`` where ``|r| < delta``, else
    ``delta (|r| - delta / 2)`` (gradient ``clip(r, -delta, delta)``; the
    same as SGDRegressor(loss="huber", epsilon=delta)).  With the L2 penalty,
    ``alpha = a / S`` gives ``Ridge(alpha=a)``'s optimum: Ridge minimizes
    ``sum_i s_i ||y_i - f(x_i)||^2 + a ||W||^2``, which is 2 S times skce's
    objective.  With penalty="l1" / "elasticnet" the same alpha and
    l1_ratio give ``Lasso(alpha)`` / ``ElasticNet(alpha, l1_ratio)``'s
    optimum (solver="lbfgs": OWL-QN), whose ``||y - Xw||^2 / (2 n)`` is
    this loss.  The intercept is not penalized (as Ridge).

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
    _AUTO_MINIBATCH = "sgd"   # solver="auto" in partial_fit / early_stopping (its former default)
    _y_numeric = True
    _stratify_validation = False

    _parameter_constraints = {
        **_BaseSGD._parameter_constraints,
        "loss": [StrOptions({"squared_error", "huber"})],
        "delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, loss="squared_error", delta=1.0, alpha=1e-4, penalty="l2",
                 l1_ratio=0.15, solver="auto", learning_rate="adaptive", eta0=0.003,
                 power_t=0.5, batch_size=256, max_iter=100, tol=1e-4, n_iter_no_change=5,
                 early_stopping=False, validation_fraction=0.1, momentum=None, dampening=0.0,
                 nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, amsgrad=False,
                 decoupled_weight_decay=False, rho=0.99, centered=False, lr_decay=0.0,
                 initial_accumulator_value=0.0, fit_intercept=True, shuffle=True,
                 average=False, warm_start=False, random_state=None, verbose=0, n_jobs=None):
        self._store_params(locals())

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
            return LossSpec.of(LOSSES["huber"], Y.shape[1], Y=Y, delta=self.delta)
        return LossSpec.of(LOSSES["squared_error"], Y.shape[1], Y=Y)

    def _coef_attrs(self, coef, intercept):
        """Ridge's shapes: coef_ (n_features,) for one target (also for y of
        shape (n, 1)); intercept_ a scalar for 1-D y, 0.0 without intercept."""
        return {"_n_outputs": coef.shape[0],
                "coef_": coef[0] if coef.shape[0] == 1 else coef,
                "intercept_": 0.0 if not self.fit_intercept
                else (intercept[0] if self._y_1d else intercept)}

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
        """Fit the model to targets y, from scratch (or from the last fit with
        warm_start=True and y of the same shape).

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)
            float32 X is trained in float32, anything else in float64; read
            in place when its layout allows (see README, Memory).
        y : array of shape (n_samples,) or (n_samples, n_targets)
            Finite real targets.
        sample_weight : array of shape (n_samples,), default=None
            Non-negative, finite row weights (None: all ones).
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
        Y = self._targets(X, y)
        reuse = self.warm_start and getattr(self, "_y_1d", None) == (np.ndim(y) == 1)
        self._y_1d = np.ndim(y) == 1
        sw = self._weights(X, sample_weight, None)
        loss = self._loss_spec(Y)
        state = self._initial_state(X.shape[1], loss.n_outputs, X.dtype, reuse, loss, sw)
        self._Y_fit = Y
        try:
            return self._run(X, loss, sw, state, max_iter=self.max_iter, partial=False,
                             callback=callback)
        finally:
            del self._Y_fit

    @minibatch_only
    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the minibatch solver over (X, y), continuing from the
        previous call (solver='lbfgs' has none: it raises).

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)
            Zero rows are a no-op.
        y : array of shape (n_samples,) or (n_samples, n_targets)
            Of the first call's shape (1-D or 2-D, number of targets).
        sample_weight : array of shape (n_samples,), default=None
            Non-negative, finite row weights (None: all ones).

        Returns
        -------
        self : object
        """
        self._check_hyperparameters()
        first = not hasattr(self, "_solver_state")
        if _num_samples(X) == 0:   # an empty block is a no-op (y's checks need a row)
            check_sparse_structure(X)
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
        state = self._state_for_partial_fit(X.shape[1], loss.n_outputs, X.dtype, first, loss)
        return self._run(X, loss, sw, state, max_iter=1, partial=True)

    # -- prediction ----------------------------------------------------------
    def predict(self, X):
        """Predictions X @ coef_.T + intercept_; zero rows allowed.

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), or (n_samples, n_targets) for 2-D y
        """
        check_is_fitted(self)
        check_sparse_structure(X)   # scipy's product would read a bad index out of bounds
        X = validate_data(self, X, accept_sparse="csr", reset=False, ensure_min_samples=0)
        return np.asarray(safe_sparse_dot(X, np.asarray(self.coef_).T, dense_output=True)
                          + self.intercept_)
