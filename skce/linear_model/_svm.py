"""LinearSVM: hinge / squared-hinge classifier (one-vs-rest or Crammer-Singer)."""
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from skce._loss import LOSSES
from skce._solver import LossSpec
from skce.linear_model._base import _OPTIMIZER_PARAMS_DOC, _BaseSGDClassifier


class LinearSVM(_BaseSGDClassifier):
    __doc__ = """Linear support vector machine (hinge or squared hinge loss) trained by
    minibatch SGD or Adam on skce's compiled solver core, or (squared hinge)
    to the optimum by minibatch SVRG, full-batch L-BFGS or (one-vs-rest, at
    most 2,000 features, no L1) Newton's method with the generalized Hessian
    (solver="newton-cholesky", as liblinear's primal solver; one block per
    class).

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
    (see `skce._solver`) with ``alpha = 1 / (C S)``, where S is the sum of the
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
        solver="lbfgs", "svrg" and "newton-cholesky" need "squared_hinge" (the hinge is not
        differentiable: a ValueError says so; svrg also refuses
        multi_class="crammer_singer", whose maximum over the classes is not
        differentiable either); hinge trains with sgd / adam.
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
    """   # (built from parts: a plain docstring must be one literal)

    _parameter_constraints = {
        **{k: v for k, v in _BaseSGDClassifier._parameter_constraints.items() if k != "alpha"},
        "C": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions({"hinge", "squared_hinge"})],
        "multi_class": [StrOptions({"ovr", "crammer_singer"})],
        "margin": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, C=1.0, loss="squared_hinge", multi_class="ovr", margin=1.0,
                 penalty="l2", l1_ratio=0.15, solver="auto", learning_rate="constant",
                 eta0=0.01, power_t=0.5, batch_size=256, max_iter=100, tol=1e-4,
                 n_iter_no_change=5, early_stopping=False, validation_fraction=0.1,
                 momentum=None, dampening=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, amsgrad=False, decoupled_weight_decay=False, rho=0.99,
                 centered=False, lr_decay=0.0, initial_accumulator_value=0.0,
                 class_weight=None, fit_intercept=True, shuffle=True, average=True,
                 warm_start=False, random_state=None, verbose=0, n_jobs=None):
        self._store_params(locals())

    def _alpha_for(self, sw, train_rows, n_samples):
        return 1.0 / (self.C * self._weight_total(sw, train_rows, n_samples))

    def _loss_spec(self, y_idx, dtype):
        K = len(self.classes_)
        squared = self.loss == "squared_hinge"
        if K > 2 and self.multi_class == "crammer_singer":
            return LossSpec.of(LOSSES["squared_multi_margin" if squared else "multi_margin"], K,
                               y=y_idx, margin=self.margin, squared=squared,
                               crammer_singer=True)
        if K == 2:
            Y = np.where(y_idx == 1, 1, -1).astype(dtype).reshape(-1, 1)
        else:
            Y = np.full((len(y_idx), K), -1, dtype=dtype)
            Y[np.arange(len(y_idx)), y_idx] = 1
        return LossSpec.of(LOSSES["squared_hinge" if squared else "hinge"], Y.shape[1],
                           Y=np.ascontiguousarray(Y), margin=self.margin, squared=squared)
