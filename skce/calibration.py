"""Temperature scaling: calibrate a classifier's probabilities with one
scalar T fitted on held-out data (Guo et al., 2017).

The calibrated probabilities are softmax(z / T) for the wrapped classifier's
decision function z (binary: sigmoid(z / T)); T > 0 leaves every argmax, so
every prediction, unchanged.  T minimises the held-out negative
log-likelihood.  That NLL is convex in 1/T (the cross-entropy of logits
z / T is), so its derivative in 1/T changes sign once: T is found by
bisection on that sign over log(1/T), which stays exact however wide
temperature_bounds are (a golden-section search on log T stopped on the flat
tail of very wide bounds and returned T = 1).
"""
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

from skce import losses
from skce.linear_model._base import _unchanged_on_error
from skce._loss import decision_to_proba
from skce._validation import check_sparse_structure

__all__ = ["TemperatureScaledClassifier"]


def _nll(z, y_idx, sample_weight, return_grad=False):
    """Mean negative log-likelihood of class indices under logits z (and its
    gradient with respect to z)."""
    if z.ndim == 1:
        return losses.binary_cross_entropy_with_logits(
            z, y_idx.astype(z.dtype), weight=None if sample_weight is None
            else sample_weight.astype(z.dtype), return_grad=return_grad)
    return losses.cross_entropy(z, y_idx, sample_weight=sample_weight,
                                return_grad=return_grad)


def _best_inverse_temperature(z, y_idx, sw, lo, hi, max_halvings=200):
    """argmin over beta in [1/hi, 1/lo] of NLL(beta z), by bisection on the
    sign of d NLL / d beta = <grad, z> over log(beta)."""
    def slope(u):
        _, grad = _nll(z * np.exp(u), y_idx, sw, return_grad=True)
        return float(np.vdot(grad, z))
    u_lo, u_hi = -np.log(hi), -np.log(lo)
    z_max = float(np.abs(z).max()) if z.size else 0.0
    if z_max > 0:   # beta z must stay finite
        u_hi = min(u_hi, np.log(np.finfo(np.float64).max / 4) - np.log(z_max))
    if u_hi <= u_lo:
        return np.exp(u_lo)
    if slope(u_lo) >= 0:
        return np.exp(u_lo)
    if slope(u_hi) <= 0:
        return np.exp(u_hi)
    for _ in range(max_halvings):
        mid = 0.5 * (u_lo + u_hi)
        if mid in (u_lo, u_hi) or u_hi - u_lo < 1e-12:
            break
        if slope(mid) > 0:
            u_hi = mid
        else:
            u_lo = mid
    return np.exp(0.5 * (u_lo + u_hi))


class TemperatureScaledClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are softmax(decision_function / T).

    Parameters
    ----------
    estimator : classifier with decision_function, default=None
        The model to calibrate (None: skce.SoftmaxClassifier()).  With
        prefit=True it must be fitted already and all of fit's data is used
        to fit T; otherwise a clone is fitted on 1 - validation_fraction of
        the data and T on the rest (stratified split).
    prefit : bool, default=False
    validation_fraction : float in (0, 1), default=0.2
    temperature_bounds : (float, float), default=(1e-2, 1e2)
        Range searched for T.
    random_state : int, RandomState or None
        The split.

    Attributes
    ----------
    estimator_ : the fitted classifier
    temperature_ : float
        T; above 1 softens an over-confident model, below 1 sharpens.
    nll_before_, nll_after_ : float
        Held-out negative log-likelihood at T = 1 and at temperature_.
    classes_, n_features_in_
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"]), None],
        "prefit": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "temperature_bounds": [tuple],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, prefit=False, validation_fraction=0.2,
                 temperature_bounds=(1e-2, 1e2), random_state=None):
        self.estimator = estimator
        self.prefit = prefit
        self.validation_fraction = validation_fraction
        self.temperature_bounds = temperature_bounds
        self.random_state = random_state

    def _base(self):
        if self.estimator is not None:
            return self.estimator
        from skce.linear_model import SoftmaxClassifier
        return SoftmaxClassifier()

    @_unchanged_on_error
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the wrapped estimator on a split of (X, y) (all of it is the
        calibration set with prefit=True), then the temperature that
        minimizes the weighted log-loss of the held-out part.

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)
        y : array of shape (n_samples,)
            Class labels.
        sample_weight : array of shape (n_samples,), default=None
            Row weights of both fits (split with the rows).

        Returns
        -------
        self : object
            With estimator_, temperature_, nll_before_ and nll_after_.
        """
        if y is None:
            raise ValueError("TemperatureScaledClassifier requires y to be passed, but the "
                             "target y is None")
        check_sparse_structure(X)   # the split below indexes X's arrays
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if _num_samples(X) == 0 or len(y) == 0:
            raise ValueError("X and y are empty (0 samples): TemperatureScaledClassifier "
                             "needs labelled samples to fit the estimator and the temperature")
        lo, hi = self.temperature_bounds
        if not (0 < lo < hi < np.inf):
            raise ValueError(f"temperature_bounds must be (low, high) with 0 < low < high; "
                             f"got {self.temperature_bounds}")
        if self.prefit:
            est = self._base()
            check_is_fitted(est, "classes_")
            X_val, y_val, sw_val = X, y, sample_weight
        else:
            stratify = y
            parts = train_test_split(
                *(a for a in (X, y, sample_weight) if a is not None),
                test_size=self.validation_fraction, stratify=stratify,
                random_state=self.random_state)
            X_tr, X_val, y_tr, y_val = parts[:4]
            sw_tr, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
            est = clone(self._base())
            if sw_tr is None:
                est.fit(X_tr, y_tr)
            else:
                est.fit(X_tr, y_tr, sample_weight=sw_tr)
        self.estimator_ = est
        self.classes_ = est.classes_
        if hasattr(est, "n_features_in_"):
            self.n_features_in_ = est.n_features_in_
        if hasattr(est, "feature_names_in_"):
            self.feature_names_in_ = est.feature_names_in_
        y_val = np.asarray(y_val)
        idx = np.searchsorted(self.classes_, y_val)
        if np.any(idx >= len(self.classes_)) or np.any(self.classes_[np.minimum(
                idx, len(self.classes_) - 1)] != y_val):
            raise ValueError("y holds labels the fitted estimator does not know; with "
                             "prefit=True fit the estimator on all the classes first")
        z = np.asarray(est.decision_function(X_val), dtype=np.float64)
        if not np.isfinite(z).all():
            raise ValueError("the estimator's decision_function returned NaN or inf on the "
                             "calibration data, so no temperature can be fitted; refit the "
                             "estimator (e.g. on standardized X) first")
        sw = None if sw_val is None else np.asarray(sw_val, dtype=np.float64)
        y_idx = idx.astype(np.int64)
        beta = _best_inverse_temperature(z, y_idx, sw, lo, hi)
        self.temperature_ = float(1.0 / beta)
        self.nll_before_ = float(_nll(z, y_idx, sw))
        self.nll_after_ = float(_nll(z * beta, y_idx, sw))
        if lo <= 1.0 <= hi and self.nll_after_ > self.nll_before_:   # rounding: T = 1 is best
            self.temperature_, self.nll_after_ = 1.0, self.nll_before_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._base().__sklearn_tags__().input_tags.sparse
        return tags

    def decision_function(self, X):
        """The wrapped decision function divided by temperature_.

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X) / self.temperature_

    def predict(self, X):
        """The wrapped model's predictions (a temperature changes no argmax).

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def predict_proba(self, X):
        """Calibrated class probabilities: the softmax (two classes: the
        sigmoid) of the tempered scores.

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        z = np.asarray(self.decision_function(X), dtype=np.float64)
        big = np.finfo(np.float64).max
        return decision_to_proba(np.clip(z, -big, big))

    def predict_log_proba(self, X):
        """Log of the calibrated class probabilities (log-softmax, finite
        where predict_proba underflows).

        Parameters
        ----------
        X : array or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        z = np.asarray(self.decision_function(X), dtype=np.float64)
        return decision_to_proba(z, log=True)
