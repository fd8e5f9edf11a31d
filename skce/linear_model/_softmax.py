"""SoftmaxClassifier: multinomial logistic regression."""
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skce._loss import LOSSES, decision_to_proba
from skce._solver import LossSpec
from skce.linear_model._base import FULL_DATA_SOLVERS, _BaseSGDClassifier


class SoftmaxClassifier(_BaseSGDClassifier):
    """Multinomial logistic regression (softmax cross-entropy) trained by
    minibatch SGD or Adam in compiled, OpenMP-parallel code, or to the
    optimum by minibatch SVRG or full-batch L-BFGS.

    A true multinomial model (one joint softmax over the classes, not
    one-vs-rest); binary problems use one logit and the logistic loss, as
    scikit-learn's LogisticRegression.  The objective is the weighted mean
    cross-entropy plus ``alpha`` times the penalty (see `skce._solver`); with
    ``alpha = 1 / (C * n_samples)`` (the default alpha=None: C=1) and
    ``penalty="l2"`` its optimum is
    LogisticRegression(C=C)'s (penalty="l1" / "elasticnet":
    LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga")'s).

    Parameters
    ----------
    solver : {"auto", "adam", "sgd", "rmsprop", "adagrad", "svrg", "lbfgs", \
"newton-cholesky"}, default="auto"
        "auto": the exact optimum, as LogisticRegression's default --
        "newton-cholesky" for binary problems with at most 200 features and
        no L1, else "lbfgs" (OWL-QN with L1); "adam" for partial_fit and
        early_stopping.  The solver a fit ran is ``solver_``.
        Minibatch: torch.optim.Adam (beta_1, beta_2, epsilon, amsgrad; AdamW
        with decoupled_weight_decay), torch.optim.SGD (momentum, dampening,
        nesterov), torch.optim.RMSprop (rho, momentum, centered, epsilon) or
        torch.optim.Adagrad (lr_decay, initial_accumulator_value, epsilon),
        each step exactly torch's (alpha's L2 part is torch's weight_decay).
        Full batch: "lbfgs", scipy's L-BFGS-B on the whole objective
        (skce._solver._objective, its passes over X in skce's compiled loss
        kernels), with LogisticRegression(solver="lbfgs")'s options, to its
        optimum; with penalty="l1" / "elasticnet" (not differentiable at 0)
        OWL-QN (skce._solver._owlqn) with the same options instead.  lbfgs
        has no partial_fit (as MLPClassifier's) nor
        early_stopping, and ignores the learning-rate, batch and averaging
        options.  "svrg": minibatch SVRG (skce._solver._svrg), which,
        unlike the other minibatch solvers, converges to the optimum with a
        constant step: each epoch starts from a snapshot whose full gradient
        (one pass over X) corrects every minibatch gradient, and takes plain
        SGD steps (L1 / elastic-net: proximal steps).  Its step comes from
        the data (a smoothness bound of the loss, doubled after each epoch
        that lowered the objective until one raises it; that epoch is
        undone and the step halved): eta0, learning_rate, momentum and
        average are ignored.  As lbfgs, it has no partial_fit nor
        early_stopping, and tol bounds the gradient.  Memory: the
        snapshot's gradient of every row, n_samples x n_classes values.
        "newton-cholesky" (binary problems, at most 2,000 features, penalty
        "l2" or None): Newton's method with the exact Hessian
        (skce._solver._newton), as LogisticRegression's solver of that
        name: a few passes to the optimum where lbfgs needs hundreds; the
        same options and restrictions as lbfgs.
    learning_rate : {"constant", "adaptive", "invscaling", "cosine"}, default="constant"
        Schedule of the step size: eta0; eta0 divided by 5 each time the
        objective (or validation score) did not improve by tol for
        n_iter_no_change epochs, training stops once it is below 1e-6 (as
        scikit-learn's); eta0 / t**power_t (t = steps); eta0 decayed to 0
        along half a cosine over max_iter epochs.  With ``average=True`` a
        constant step is enough: averaging removes the minibatch noise that
        a decaying step would otherwise have to.
    eta0 : float or None, default=None
        Initial learning rate (torch's ``lr``); None: 0.01 for Adam and
        RMSprop, 0.1 for SGD (with momentum 0.9) and Adagrad, measured good on
        standardized data.
    power_t : float, default=0.5
    batch_size : int, default=256
        Rows per minibatch (larger than n_samples: full batch).
    max_iter : int, default=100
        Epochs (passes over the data; svrg: each with one more, its full
        gradient); lbfgs: iterations.
    tol : float, None or "auto", default="auto"
        "auto": 1e-3 for the minibatch solvers, 1e-4 (LogisticRegression's
        default) for lbfgs and svrg; None: no stopping rule.  sgd / adam: stop (or, with learning_rate="adaptive", lower the step)
        when the epoch's objective has not improved by tol for
        n_iter_no_change epochs (with early_stopping: the validation
        accuracy).  lbfgs: stop when the max-norm of the gradient (with L1
        the pseudo-gradient, the minimum-norm subgradient) is <= tol
        (scipy's gtol, as LogisticRegression's tol, whose default is 1e-4;
        tol=1e-10 met LogisticRegression(tol=1e-10)'s objective to 1e-12
        relative on digits) or when the objective decreases by less than
        64 machine epsilons (relative) in an iteration.  svrg: stop when
        the max-norm of the gradient at the end of an epoch (from its full
        gradient pass; with L1 the minimum-norm subgradient) is <= tol;
        n_iter_no_change is not used.
    n_iter_no_change : int, default=2
    early_stopping : bool, default=False
        Hold out validation_fraction of the data (stratified), stop on its
        accuracy, and keep the best validated coefficients.
    validation_fraction : float, default=0.1
    alpha : float or None, default=None
        Regularization strength.  None: 1 / S, S the sum of the training
        rows' weights (sample weight times class weight; n_samples without
        weights) of the fit (partial_fit: of the call), so that the default
        fit has the optimum of LogisticRegression()'s (C=1) objective.  A
        float is used as given (SGDClassifier's default is 1e-4).
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
    l1_ratio : float, default=0.15
        Share of L1 in elasticnet.
    momentum : float or None, default=None
        SGD's and RMSprop's momentum; None: 0.9 for SGD, 0 for RMSprop
        (torch.optim.RMSprop's default).
    dampening, nesterov : SGD options (default 0, False).
    beta_1, beta_2, amsgrad : Adam options (default 0.9, 0.999, False).
    epsilon : float, default=1e-8
        Added to the denominator by Adam, RMSprop and Adagrad.  torch's
        Adagrad default is 1e-10: pass epsilon=1e-10 for its exact steps.
    rho, centered : RMSprop options (default 0.99, False); rho is torch's
        ``alpha`` (the square average's decay), renamed as alpha is the
        penalty strength here.
    lr_decay, initial_accumulator_value : Adagrad options (default 0, 0).
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
    solver_ : str
        The solver the last fit / partial_fit ran (solver="auto" resolved).
    n_iter_ : int
        Epochs run (lbfgs: L-BFGS iterations).
    t_ : int
        Optimizer steps taken (lbfgs: objective evaluations).
    alpha_ : float
        The penalty strength of the last fit / partial_fit call (``alpha``,
        or 1 / S for ``alpha=None``).
    loss_curve_ : list of float
        Objective (weighted mean training loss + penalty) per epoch: that of
        the averaged model after the epoch with ``average=True``; else the
        mean of the minibatch losses during the epoch.  lbfgs: the exact
        objective after each iteration; svrg: after each epoch (an undone
        epoch repeats the previous value).

    Notes
    -----
    A cold fit (not warm_start) starts from zero weights and, with
    fit_intercept, the best intercept of a model without features: the
    centred log class priors (binary: the logit of the positive rate), as
    scikit-learn's ``fit_intercept_only``.  A minibatch fit whose objective
    diverges while finite (10x that of that constant model, or rising for 5
    epochs above twice it) raises ``skce.exceptions.TrainingDiverged``
    naming the learning rate, solver and feature scale, as one whose loss
    overflows does; the estimator is left unchanged.
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_features_in_, feature_names_in_
    """

    _parameter_constraints = {
        **_BaseSGDClassifier._parameter_constraints,
        "label_smoothing": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None, StrOptions({"auto"})],
    }

    def __init__(self, *, solver="auto", learning_rate="constant", eta0=None, power_t=0.5,
                 batch_size=256, max_iter=100, tol="auto", n_iter_no_change=2,
                 early_stopping=False, validation_fraction=0.1, alpha=None, penalty="l2",
                 l1_ratio=0.15, momentum=None, dampening=0.0, nesterov=False, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, amsgrad=False, decoupled_weight_decay=False,
                 rho=0.99, centered=False, lr_decay=0.0, initial_accumulator_value=0.0,
                 class_weight=None, label_smoothing=0.0, fit_intercept=True, shuffle=True,
                 average=True, warm_start=False, random_state=None, verbose=0, n_jobs=None):
        self._store_params(locals())

    def _tol(self, solver=None):
        if self.tol != "auto":
            return self.tol
        return 1e-4 if (solver or self._solver()) in FULL_DATA_SOLVERS else 1e-3

    def _alpha_for(self, sw, train_rows, n_samples):
        if self.alpha is not None:
            return self.alpha
        return 1.0 / self._weight_total(sw, train_rows, n_samples)

    def _loss_spec(self, y_idx, dtype):
        K = len(self.classes_)
        if K == 2:
            eps = self.label_smoothing
            Y = (y_idx == 1).astype(dtype).reshape(-1, 1)
            if eps:
                Y = Y * (1 - eps) + eps / 2
            return LossSpec.of(LOSSES["binary_cross_entropy"], 1, Y=np.ascontiguousarray(Y, dtype))
        return LossSpec.of(LOSSES["cross_entropy"], K, y=y_idx,
                           label_smoothing=self.label_smoothing)

    # -- prediction ----------------------------------------------------------
    def _logits(self, X):
        scores = self.decision_function(X)
        big = np.finfo(scores.dtype).max
        return np.clip(scores, -big, big)   # +-inf scores would give NaN probabilities

    def predict_proba(self, X):
        """Class probabilities: the softmax of the scores (the logistic
        sigmoid for two classes), stable, never NaN even for huge
        coefficients.

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns in the order of classes_.
        """
        check_is_fitted(self)
        return decision_to_proba(self._logits(X))

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed as log-softmax (finite
        where predict_proba underflows to 0).

        Parameters
        ----------
        X : array or CSR matrix of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return decision_to_proba(self._logits(X), log=True)
