"""scikit-learn's estimator checks (parametrize_with_checks), once for every
public estimator and each solver family: the defaults, the minibatch solvers
with true minibatches, L-BFGS, SVRG, the PyTorch-ported optimizers and the
calibration wrapper.  The checks expected to fail, and why, are in
_checks.expected_failed_checks."""
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from _checks import expected_failed_checks
from skce import LinearRegressor, LinearSVM, SoftmaxClassifier
from skce.calibration import TemperatureScaledClassifier

# (SGD-family steps small enough for the checks' unscaled data, |x| ~ 100:
# the default steps diverge there, which raises TrainingDiverged, as meant)
ESTIMATORS = [
    SoftmaxClassifier(), SoftmaxClassifier(solver="adam"),
    SoftmaxClassifier(solver="sgd", eta0=1e-3),
    SoftmaxClassifier(solver="lbfgs"),
    SoftmaxClassifier(solver="adam", batch_size=16, learning_rate="cosine"),
    SoftmaxClassifier(solver="svrg"),
    SoftmaxClassifier(solver="rmsprop", eta0=1e-3, max_iter=20, centered=True, momentum=0.5),
    SoftmaxClassifier(solver="adagrad", eta0=1e-2, max_iter=20, lr_decay=0.01),
    LinearSVM(), LinearSVM(solver="sgd", loss="hinge", eta0=1e-3),
    LinearSVM(solver="adam"),
    LinearSVM(multi_class="crammer_singer", batch_size=16, learning_rate="cosine"),
    # (the sample-weight equivalence check, to rtol 1e-7, needs the optimum:
    # at C=1 its squared-hinge problem is so flat that L-BFGS's ftol, 64 eps
    # as LogisticRegression's, stops 3e-6 from it in the decision values)
    LinearSVM(solver="lbfgs", C=0.1, tol=1e-10),
    LinearSVM(solver="svrg"), LinearSVM(solver="svrg", batch_size=16),
    LinearSVM(solver="newton-cholesky"),
    LinearSVM(solver="rmsprop", eta0=1e-3, max_iter=20),
    LinearSVM(solver="adagrad", eta0=1e-2, max_iter=20),
    LinearRegressor(), LinearRegressor(solver="sgd"), LinearRegressor(solver="lbfgs"),
    LinearRegressor(solver="adam", loss="huber", batch_size=16, learning_rate="cosine"),
    LinearRegressor(solver="svrg"), LinearRegressor(solver="svrg", loss="huber"),
    LinearRegressor(solver="newton-cholesky"),
    LinearRegressor(solver="rmsprop", eta0=1e-2, max_iter=20),
    LinearRegressor(solver="adagrad", eta0=0.1, max_iter=20, initial_accumulator_value=0.1),
    TemperatureScaledClassifier(SoftmaxClassifier(max_iter=20)),
    TemperatureScaledClassifier(SoftmaxClassifier(solver="adam", max_iter=20)),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
