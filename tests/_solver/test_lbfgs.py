"""solver="lbfgs": the optimum of skce's objective, against scikit-learn's
solvers of the same problem; the divergence checks of the minibatch loop;
the intercept-only start of cold fits."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skce.exceptions import TrainingDiverged
from skce.linear_model import LinearRegressor, LinearSVM, SoftmaxClassifier
from skce._solver._objective import LinearObjective
from _checks import check_lbfgs_max_iter_warns_and_callback_stops



def _objective(est, X, y, sw=None):
    """skce's objective of a fitted skce estimator's problem, as a function of (coef, b)."""
    y_idx = np.searchsorted(est.classes_, y)
    loss = est._loss_spec(y_idx, X.dtype)
    sw_all = est._weights(X, sw, y_idx)
    alpha = est._alpha_for(sw_all, None, X.shape[0]) or est.alpha
    obj = LinearObjective(X, loss, l2=alpha, sample_weight=sw_all,
                          fit_intercept=est.fit_intercept)
    return lambda coef, b: obj.loss(obj.pack(np.asarray(coef, np.float64).T, b))


def _relative_suboptimality(f, f_other):
    best = min(f, f_other)
    return (f - best) / best


def _assert_optimum_of_logistic_regression(X, y, sw=None, max_iter=3000):
    n = X.shape[0]
    clf = SoftmaxClassifier(solver="lbfgs", alpha=1.0 / n, tol=1e-10, max_iter=max_iter)
    clf.fit(X, y, sample_weight=sw)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=max_iter).fit(X, y, sample_weight=sw)
    if sw is not None:   # LogisticRegression's penalty is 1/(2C sum(sw)) when weighted
        clf = SoftmaxClassifier(solver="lbfgs", alpha=1.0 / sw.sum(), tol=1e-10,
                                max_iter=max_iter).fit(X, y, sample_weight=sw)
    F = _objective(clf, X, y, sw)
    f, f_ref = F(clf.coef_, clf.intercept_), F(ref.coef_, ref.intercept_)
    assert _relative_suboptimality(f, f_ref) <= 1e-8, (f, f_ref)
    assert clf.loss_curve_[-1] == pytest.approx(f, rel=1e-12)
    return clf


@pytest.mark.slow
def test_softmax_reaches_the_logistic_regression_optimum_on_digits(digits):
    X, y = digits
    clf = _assert_optimum_of_logistic_regression(X, y)
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.n_iter_ > 10
    assert np.all(np.diff(clf.loss_curve_) <= 1e-12)   # descent at every iteration


def test_weighted_and_sparse_binary_optimum():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    sw = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    _assert_optimum_of_logistic_regression(X, y, sw)
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0, X))
    _assert_optimum_of_logistic_regression(Xs, y)


@pytest.mark.slow
def test_softmax_reaches_the_logistic_regression_optimum_on_letter(letter_file):
    X = StandardScaler().fit_transform(letter_file[:, 1:])
    _assert_optimum_of_logistic_regression(X, letter_file[:, 0].astype(int), max_iter=5000)


@pytest.mark.slow
def test_integer_weights_equal_repeated_rows(digits):
    X, y = digits
    w = np.random.default_rng(1).integers(0, 3, len(y))
    kw = dict(solver="lbfgs", alpha=1e-3, tol=1e-10, max_iter=2000)
    a = SoftmaxClassifier(**kw).fit(X, y, sample_weight=w)
    b = SoftmaxClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    # atol: pixels nonzero only in rows of weight 0 are constant in both fits,
    # their weights held by the L2 term alone (curvature alpha = 1e-3): where F
    # stops changing by more than its rounding (ftol = 64 eps, F ~ 0.1) they are
    # determined to sqrt(2 * 64 eps * F / alpha) ~ 2e-6
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-5)


def test_float32_input_trains_in_float32(digits):
    X, y = digits
    kw = dict(solver="lbfgs", alpha=1e-3, tol=1e-6, max_iter=2000)
    c64 = SoftmaxClassifier(**kw).fit(X, y)
    c32 = SoftmaxClassifier(**kw).fit(X.astype(np.float32), y)
    assert c32.coef_.dtype == np.float32
    F = _objective(c64, X, y)
    assert _relative_suboptimality(F(c32.coef_, c32.intercept_),
                                   F(c64.coef_, c64.intercept_)) <= 1e-5


@pytest.mark.parametrize("n_classes", [2, 10])
def test_squared_hinge_reaches_the_linear_svc_optimum(digits, n_classes):
    X, y = digits
    keep = y < n_classes
    X, y = X[keep], y[keep]
    C = 0.01
    svm = LinearSVM(C=C, loss="squared_hinge", solver="lbfgs", fit_intercept=False,
                    tol=1e-10, max_iter=5000).fit(X, y)
    ref = LinearSVC(C=C, loss="squared_hinge", dual=False, fit_intercept=False, tol=1e-10,
                    max_iter=100000).fit(X, y)
    F = _objective(svm, X, y)
    f, f_ref = F(svm.coef_, np.zeros(len(svm.coef_))), F(ref.coef_, np.zeros(len(ref.coef_)))
    assert _relative_suboptimality(f, f_ref) <= 1e-8, (f, f_ref)


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_regressor_reaches_the_ridge_solution(n_targets, sparse):
    X, y = make_regression(300, 12, n_targets=n_targets, noise=5.0, random_state=0)
    sw = np.random.default_rng(2).random(300) + 0.5
    a = 3.0
    reg = LinearRegressor(solver="lbfgs", alpha=a / sw.sum(), tol=1e-10, max_iter=5000)
    reg.fit(sp.csr_matrix(X) if sparse else X, y, sample_weight=sw)
    ref = Ridge(alpha=a, solver="cholesky").fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-8, atol=1e-8 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8, atol=1e-7)


def test_huber_optimum_has_zero_gradient():
    """KKT: the gradient of the objective (checked against torch in
    test_objective.py) vanishes at the solution, here measured by the
    gradient of an objective rebuilt from scratch."""
    X, y = make_regression(400, 8, noise=20.0, random_state=3)
    y[:20] += 500   # outliers
    X = StandardScaler().fit_transform(X)
    reg = LinearRegressor(loss="huber", delta=5.0, solver="lbfgs", alpha=1e-3, tol=1e-10,
                          max_iter=5000).fit(X, y)
    loss = reg._loss_spec(reg._targets(X, y))
    obj = LinearObjective(X, loss, l2=1e-3)
    grad = obj.gradient(obj.pack(np.reshape(reg.coef_, (1, -1)).T, [reg.intercept_]))
    assert np.abs(grad).max() < 1e-7


def test_warm_start_from_the_optimum_takes_few_iterations(digits):
    X, y = digits
    clf = SoftmaxClassifier(solver="lbfgs", alpha=1e-3, tol=1e-8, max_iter=2000).fit(X, y)
    n_cold = clf.n_iter_
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.n_iter_ <= 2 < n_cold


def test_max_iter_warns_and_callback_stops(digits):
    X, y = digits
    check_lbfgs_max_iter_warns_and_callback_stops(X, y, 3)


@pytest.mark.parametrize("cls, bad, match", [
    (LinearSVM, {"loss": "hinge"}, "smooth loss.*squared_hinge"),
    (LinearSVM, {"loss": "hinge", "multi_class": "crammer_singer"}, "smooth loss"),
    (SoftmaxClassifier, {"early_stopping": True}, "early_stopping"),
])
def test_unsupported_options_raise_and_leave_the_estimator_unchanged(digits, cls, bad, match):
    X, y = digits
    est = cls(solver="adam", max_iter=2, tol=None, random_state=0).fit(X, y)
    coef = est.coef_.copy()
    est.set_params(solver="lbfgs", **bad)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    np.testing.assert_array_equal(est.coef_, coef)


def test_partial_fit_with_lbfgs_raises(digits):
    X, y = digits
    for est in (SoftmaxClassifier(solver="lbfgs"), LinearRegressor(solver="lbfgs")):
        assert not hasattr(est, "partial_fit")   # as MLPClassifier(solver="lbfgs")
        with pytest.raises(AttributeError) as info:
            est.partial_fit(X, y)
        assert "partial_fit needs a minibatch solver" in str(info.value.__cause__)
    # a model fitted by lbfgs continues by partial_fit with a minibatch solver
    with pytest.warns(ConvergenceWarning):
        clf = SoftmaxClassifier(solver="lbfgs", max_iter=5, tol=0).fit(X, y)
    clf.set_params(solver="sgd", eta0=1e-3).partial_fit(X, y)
    assert clf.score(X, y) > 0.8


# ---------------------------------------------------------------------------
# divergence of the minibatch loop (issue #13.3)
# ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_on_an_unscaled_feature_raises():
    X, y = make_regression(500, 10, random_state=0)
    X[:, 3] *= 100
    with pytest.raises(TrainingDiverged, match=r"objective after epoch \d+ .*solver='sgd'.*"
                       r"Lower eta0.*feature 3 reaches.*standardize y") as info:
        LinearRegressor(solver="sgd", random_state=0).fit(X, y)
    assert isinstance(info.value, ValueError)
    # the same data is fine standardized, and with lbfgs (no learning rate)
    Xs = StandardScaler().fit_transform(X)
    assert LinearRegressor(solver="sgd", random_state=0).fit(Xs, y).score(Xs, y) > 0.99
    assert LinearRegressor(solver="lbfgs").fit(X, y).score(X, y) > 0.99
    default = LinearRegressor().fit(X, y)   # solver="auto": Newton's method, exact
    assert default.solver_ == "newton-cholesky" and default.score(X, y) > 0.99


def test_sgd_with_a_huge_step_on_unscaled_digits_raises_and_keeps_the_model(digits):
    X, y = load_digits(return_X_y=True)
    X = X * 1000
    good = SoftmaxClassifier(solver="sgd", eta0=1e-8, max_iter=2, tol=None,
                             random_state=0).fit(X, y)
    coef, intercept = good.coef_.copy(), good.intercept_.copy()
    good.set_params(eta0=1000, max_iter=100, tol=1e-3)
    with pytest.raises(TrainingDiverged, match=r"learning rate 1000 \(solver='sgd'\).*"
                       r"solver='adam'.*feature \d+ reaches"):
        good.fit(X, y)
    np.testing.assert_array_equal(good.coef_, coef)
    np.testing.assert_array_equal(good.intercept_, intercept)
    assert good.n_iter_ == 2


def test_adam_divergence_does_not_suggest_adam(digits):
    X, y = load_digits(return_X_y=True)
    with pytest.raises(TrainingDiverged, match="solver='adam'") as info:
        SoftmaxClassifier(solver="adam", eta0=1e4, alpha=0.0, tol=None, max_iter=30,
                          random_state=0).fit(X * 1000, y)
    assert "use solver='adam'" not in str(info.value)


def test_normal_fits_do_not_trigger_divergence(digits):
    X, y = digits
    for est in (SoftmaxClassifier(random_state=0), SoftmaxClassifier(solver="sgd",
                random_state=0), LinearSVM(random_state=0)):
        assert est.fit(X, y).score(X, y) > 0.9


# ---------------------------------------------------------------------------
# intercept-only start of cold fits
# ---------------------------------------------------------------------------

def _frozen(est):
    """A fit that takes (numerically) no step: what it returns is the start
    (a minibatch solver: the full-batch ones have no step size)."""
    return est.set_params(solver="sgd", eta0=1e-30, max_iter=1, tol=None, random_state=0)


def test_softmax_starts_from_the_centred_log_priors(digits):
    X, y = digits
    y = np.where(y < 3, y, 3)   # unbalanced
    sw = np.random.default_rng(3).random(len(y))
    clf = _frozen(SoftmaxClassifier()).fit(X, y, sample_weight=sw)
    p = np.bincount(y, weights=sw) / sw.sum()
    np.testing.assert_allclose(clf.intercept_, np.log(p) - np.log(p).mean(), rtol=1e-6)
    binary = _frozen(SoftmaxClassifier()).fit(X, y == 0)
    q = np.mean(y == 0)
    np.testing.assert_allclose(binary.intercept_, [np.log(q / (1 - q))], rtol=1e-6)


def test_regressor_starts_from_the_weighted_mean_and_svm_from_zero(digits):
    X, y = digits
    sw = np.random.default_rng(4).random(len(y))
    reg = _frozen(LinearRegressor()).fit(X, y + 100.0, sample_weight=sw)
    assert reg.intercept_ == pytest.approx(np.average(y + 100.0, weights=sw), rel=1e-9)
    svm = _frozen(LinearSVM()).fit(X, y)
    np.testing.assert_allclose(svm.intercept_, 0, atol=1e-20)


def test_warm_start_keeps_its_intercept(digits):
    X, y = digits
    clf = _frozen(SoftmaxClassifier())
    clf.fit(X, y)
    clf.intercept_[:] = 5.0
    clf.set_params(warm_start=True).fit(X, y)
    np.testing.assert_allclose(clf.intercept_, 5.0, rtol=1e-6)


@pytest.mark.parametrize("own", [False, True], ids=["lbfgsb", "own"])
def test_every_pass_over_the_data_is_an_evaluation_of_the_minimizer(digits, monkeypatch, own):
    """The pass that checks the start is finite is also the minimizer's first
    evaluation: a fit reads X as many times as L-BFGS evaluates F, not once more."""
    from skce._solver import _lbfgs
    X, y = digits
    passes, results = [], []
    real_pass, real_minimize = LinearObjective._pass, _lbfgs.minimize_penalized

    def counting_pass(self, *args, **kwargs):
        passes.append(1)
        return real_pass(self, *args, **kwargs)

    def recording(*args, **kwargs):
        results.append(real_minimize(*args, **kwargs))
        return results[-1]
    monkeypatch.setattr(LinearObjective, "_pass", counting_pass)
    monkeypatch.setattr(_lbfgs, "minimize_penalized", recording)
    if own:
        monkeypatch.setattr(_lbfgs, "_OWN_LBFGS_PARAMS", 0)
    SoftmaxClassifier(solver="lbfgs", max_iter=30, tol=1e-6).fit(X, y)
    assert results[0].nfev > 5
    assert len(passes) == results[0].nfev
