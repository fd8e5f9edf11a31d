"""The defaults a LogisticRegression user expects: SoftmaxClassifier's
alpha=None is 1/S (C=1) and tol="auto" is LogisticRegression's 1e-4 for the
full-gradient solvers (1e-3, SGDClassifier's, for the minibatch ones)."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skce import SoftmaxClassifier
import skce._solver._lbfgs as lbfgs_module


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:600], y[:600]


def test_default_alpha_is_one_over_the_weight_sum(digits):
    X, y = digits
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    assert SoftmaxClassifier(max_iter=2).fit(X, y).alpha_ == pytest.approx(1 / len(y))
    assert SoftmaxClassifier(max_iter=2).fit(X, y, sample_weight=sw).alpha_ == \
        pytest.approx(1 / sw.sum())
    balanced = SoftmaxClassifier(max_iter=2, class_weight="balanced").fit(X, y)
    assert balanced.alpha_ == pytest.approx(1 / len(y))   # balanced weights sum to n
    assert SoftmaxClassifier(max_iter=2, alpha=0.01).fit(X, y).alpha_ == 0.01


def test_default_objective_is_logistic_regressions(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = LogisticRegression(tol=1e-10, max_iter=5000).fit(X, y)
    ours = SoftmaxClassifier(solver="lbfgs", tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), lr.predict_proba(X), atol=1e-6)
    # a different alpha moves the optimum: the comparison can fail
    other = SoftmaxClassifier(solver="lbfgs", alpha=1e-4, tol=1e-10, max_iter=5000).fit(X, y)
    assert np.abs(other.predict_proba(X) - lr.predict_proba(X)).max() > 1e-3


def _gtol_used(monkeypatch, est, X, y):
    """The gtol of the L-BFGS options of est's fit (either minimizer's)."""
    seen = []
    original = lbfgs_module.lbfgs_options

    def spy(*args, **kwargs):
        options = original(*args, **kwargs)
        seen.append(options["gtol"])
        return options
    monkeypatch.setattr(lbfgs_module, "lbfgs_options", spy)
    est.fit(X, y)
    return seen[0]


def test_tol_auto_is_per_solver(monkeypatch, digits):
    X, y = digits
    assert _gtol_used(monkeypatch, SoftmaxClassifier(solver="lbfgs"), X, y) == 1e-4
    assert _gtol_used(monkeypatch, SoftmaxClassifier(solver="lbfgs", tol=1e-6), X, y) == 1e-6
    auto = SoftmaxClassifier(solver="adam", random_state=0).fit(X, y)
    explicit = SoftmaxClassifier(solver="adam", random_state=0, tol=1e-3).fit(X, y)
    assert auto.n_iter_ == explicit.n_iter_
    np.testing.assert_array_equal(auto.coef_, explicit.coef_)
    svrg_auto = SoftmaxClassifier(solver="svrg", random_state=0).fit(X, y)
    svrg_explicit = SoftmaxClassifier(solver="svrg", random_state=0, tol=1e-4).fit(X, y)
    np.testing.assert_array_equal(svrg_auto.coef_, svrg_explicit.coef_)


def test_solver_auto_picks_the_exact_solver_and_minibatch_where_none_applies(digits):
    from sklearn.datasets import make_regression

    from skce import LinearRegressor, LinearSVM
    X, y = digits
    assert SoftmaxClassifier().solver == "auto"
    cases = [
        (SoftmaxClassifier(), y, "lbfgs"),                        # multinomial
        (SoftmaxClassifier(), y < 5, "newton-cholesky"),          # binary, 64 features
        (SoftmaxClassifier(penalty="l1"), y < 5, "lbfgs"),        # L1: OWL-QN
        (SoftmaxClassifier(early_stopping=True), y, "adam"),
        (LinearSVM(), y < 5, "newton-cholesky"),                  # binary squared hinge
        (LinearSVM(), y, "lbfgs"),                  # one-vs-rest: 64 features x 10 classes > 200
        (LinearSVM(), np.minimum(y, 2), "newton-cholesky"),       # 64 x 3 classes <= 200
        (LinearSVM(loss="hinge"), y, "adam"),                     # not differentiable
        (LinearSVM(multi_class="crammer_singer"), y, "adam"),
    ]
    for est, target, solver in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert est.fit(X, target).solver_ == solver, est
    assert SoftmaxClassifier().partial_fit(X, y, classes=np.unique(y)).solver_ == "adam"
    Xr, yr = make_regression(300, 5, random_state=0)
    assert LinearRegressor().fit(Xr, yr).solver_ == "newton-cholesky"
    assert LinearRegressor().partial_fit(Xr / 10, yr / 100).solver_ == "sgd"
    wide = np.random.default_rng(0).normal(size=(300, 201))
    assert LinearRegressor().fit(wide, yr).solver_ == "lbfgs"     # > 200 features
    Yr = np.column_stack([yr] * 41)
    assert LinearRegressor().fit(Xr, Yr).solver_ == "lbfgs"       # 5 features x 41 targets
    assert LinearRegressor().fit(Xr, Yr[:, :40]).solver_ == "newton-cholesky"    # 5 x 40
