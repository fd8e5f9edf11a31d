"""skce's own L-BFGS (skce._solver._owlqn with l1 = 0), which solver="lbfgs"
runs from `_lbfgs._OWN_LBFGS_PARAMS` parameters on and wherever the diagonal
precondition applies: the optimum against
scipy's L-BFGS-B and scikit-learn's LogisticRegression / LinearSVC / Ridge,
the approximate-Wolfe steps near the optimum, max_iter and callback."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import is_classifier
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skce.linear_model import LinearRegressor, LinearSVM, SoftmaxClassifier
from skce._solver import _lbfgs, _owlqn
from skce._solver._lbfgs import lbfgs_options
from skce._solver._objective import LinearObjective
from _checks import check_lbfgs_max_iter_warns_and_callback_stops


def _relative_suboptimality(f, f_other):
    best = min(f, f_other)
    return (f - best) / best


@pytest.fixture
def calls(monkeypatch):
    """Records which minimizer each fit ran: 'skce' or 'scipy'."""
    seen = []
    own, scipys = _owlqn.minimize_owlqn, _lbfgs.minimize

    def spy_own(*args, **kwargs):
        seen.append("skce")
        return own(*args, **kwargs)

    def spy_scipy(*args, **kwargs):
        seen.append("scipy")
        return scipys(*args, **kwargs)
    monkeypatch.setattr(_lbfgs, "minimize_owlqn", spy_own)
    monkeypatch.setattr(_lbfgs, "minimize", spy_scipy)
    return seen


@pytest.fixture
def own_always(monkeypatch, calls):
    """skce's L-BFGS for every size of problem."""
    monkeypatch.setattr(_lbfgs, "_OWN_LBFGS_PARAMS", 0)
    return calls


def _problems(digits):
    X, y = digits
    Xr, yr = make_regression(400, 8, noise=20.0, random_state=3)
    yr[:20] += 500   # outliers: the Huber loss's linear part
    Xr = StandardScaler().fit_transform(Xr)
    return {
        "softmax": (SoftmaxClassifier(alpha=1e-3), X, y),
        "binary": (SoftmaxClassifier(alpha=1e-3), X, (y >= 5).astype(int)),
        "squared_hinge": (LinearSVM(C=0.1, loss="squared_hinge"), X, y),
        "huber": (LinearRegressor(loss="huber", delta=5.0, alpha=1e-3), Xr, yr),
    }


@pytest.mark.parametrize("name", ["softmax", "binary", "squared_hinge", "huber"])
def test_reaches_scipys_lbfgs_b_optimum(digits, name):
    est, X, y = _problems(digits)[name]
    with warnings.catch_warnings():   # one iteration: the encoding and alpha_ only
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(solver="lbfgs", max_iter=1).fit(X, y)
    if is_classifier(est):
        loss = est._loss_spec(est._encode(y), X.dtype)
    else:
        loss = est._loss_spec(est._targets(X, y))
    _, l2 = est._optimizer_spec(getattr(est, "alpha_", getattr(est, "alpha", None))).l1_l2()
    obj = LinearObjective(X, loss, l2=l2)
    x0 = np.zeros(obj.n_params)
    options = lbfgs_options(obj.n_params, 5000, 1e-10)
    mine = _owlqn.minimize_owlqn(obj.loss_gradient, x0, 0.0, obj.n_params, **options)
    ref = minimize(obj.loss_gradient, x0, method="L-BFGS-B", jac=True, options=options)
    assert mine.success, mine.message
    assert _relative_suboptimality(mine.fun, ref.fun) <= 1e-12, (mine.fun, ref.fun)
    assert np.abs(obj.gradient(mine.x)).max() <= 1e-6
    assert mine.nit <= 1.5 * ref.nit + 10
    assert mine.nfev <= 2 * mine.nit + 5


def test_approximate_wolfe_steps_reach_a_gradient_past_f_rounding(own_always):
    """Huber regression to tol 1e-10: near the optimum F changes by less than
    its rounding, the strong-Wolfe search fails on noise (without the
    approximate-Wolfe steps this fit ended at |g| 1.4e-7, line search failed),
    while the slopes still lead on."""
    X, y = make_regression(400, 8, noise=20.0, random_state=3)
    y[:20] += 500
    X = StandardScaler().fit_transform(X)
    reg = LinearRegressor(loss="huber", delta=5.0, solver="lbfgs", alpha=1e-3, tol=1e-10,
                          max_iter=5000).fit(X, y)
    assert own_always == ["skce"]
    obj = LinearObjective(X, reg._loss_spec(reg._targets(X, y)), l2=1e-3)
    g = obj.gradient(obj.pack(np.reshape(reg.coef_, (1, -1)).T, [reg.intercept_]))
    assert np.abs(g).max() < 1e-8


def test_squared_hinge_and_ridge_optima(digits, own_always):
    X, y = digits
    C = 0.01
    svm = LinearSVM(C=C, loss="squared_hinge", solver="lbfgs", fit_intercept=False,
                    tol=1e-10, max_iter=5000).fit(X, y)
    ref = LinearSVC(C=C, loss="squared_hinge", dual=False, fit_intercept=False, tol=1e-10,
                    max_iter=100000).fit(X, y)
    svm.classes_ = np.unique(y)
    obj = LinearObjective(X, svm._loss_spec(np.searchsorted(svm.classes_, y), X.dtype),
                          l2=1.0 / (C * len(y)), fit_intercept=False)
    f, f_ref = (obj.loss(obj.pack(np.asarray(c, float).T, np.zeros(0))) for c in
                (svm.coef_, ref.coef_))
    assert _relative_suboptimality(f, f_ref) <= 1e-8, (f, f_ref)

    Xr, yr = make_regression(300, 12, n_targets=3, noise=5.0, random_state=0)
    sw = np.random.default_rng(2).random(300) + 0.5
    reg = LinearRegressor(solver="lbfgs", alpha=3.0 / sw.sum(), tol=1e-10, max_iter=5000)
    reg.fit(sp.csr_matrix(Xr), yr, sample_weight=sw)
    ridge = Ridge(alpha=3.0, solver="cholesky").fit(Xr, yr, sample_weight=sw)
    np.testing.assert_allclose(reg.coef_, ridge.coef_, rtol=1e-7,
                               atol=1e-7 * np.abs(ridge.coef_).max())
    np.testing.assert_allclose(reg.intercept_, ridge.intercept_, rtol=1e-7, atol=1e-6)
    assert own_always == ["skce", "skce"]


@pytest.fixture(scope="module")
def wide_sparse():
    """3,000 x 1,000 CSR, 10 classes: 10,010 parameters, skce's L-BFGS by default."""
    rng = np.random.default_rng(0)
    X = sp.random(3000, 1000, density=0.02, format="csr", random_state=0)
    y = np.argmax(X @ rng.normal(size=(1000, 10)) + rng.gumbel(size=(3000, 10)), axis=1)
    return X, y


def test_wide_sparse_fit_runs_skce_lbfgs_to_logistic_regressions_optimum(wide_sparse, calls):
    X, y = wide_sparse
    alpha = 1.0 / X.shape[0]
    clf = SoftmaxClassifier(solver="lbfgs", alpha=alpha, tol=1e-10, max_iter=5000).fit(X, y)
    assert calls == ["skce"]
    lr = LogisticRegression(C=1.0, tol=1e-12, max_iter=10000).fit(X, y)
    obj = LinearObjective(X, clf._loss_spec(clf._encode(y), X.dtype), l2=alpha)
    f, f_lr = (obj.loss(obj.pack(np.asarray(c, float).T, np.asarray(b, float)))
               for c, b in ((clf.coef_, clf.intercept_), (lr.coef_, lr.intercept_)))
    assert _relative_suboptimality(f, f_lr) <= 1e-8, (f, f_lr)
    # below the threshold: skce's where the precondition applies (the columns'
    # scales differ), else scipy's L-BFGS-B (standardized columns)
    SoftmaxClassifier(solver="lbfgs", alpha=alpha, max_iter=5000).fit(X[:, :100], y)
    assert calls == ["skce", "skce"]
    Xd = StandardScaler().fit_transform(X[:, :100].toarray())
    SoftmaxClassifier(solver="lbfgs", alpha=alpha, max_iter=5000).fit(Xd, y)
    assert calls == ["skce", "skce", "scipy"]


def test_max_iter_warns_and_callback_stops(wide_sparse, calls):
    X, y = wide_sparse
    limited, stopped = check_lbfgs_max_iter_warns_and_callback_stops(X, y, 2)
    assert len(limited.loss_curve_) == 2
    assert np.all(np.diff(stopped.loss_curve_) < 0)   # every accepted step decreased F here
    assert calls == ["skce", "skce"]


def test_a_wrong_gradient_ends_with_a_failed_line_search_not_a_crash():
    """An f whose gradient points uphill: no step decreases it; the result
    says so (status 2) and x is where it started."""
    def fun(x):
        return float(np.dot(x, x)), -2.0 * x   # the gradient of -|x|^2
    x0 = np.ones(5)
    res = _owlqn.minimize_owlqn(fun, x0, 0.0, 5, **lbfgs_options(5, 100, 1e-8))
    assert res.status == 2 and not res.success
    np.testing.assert_array_equal(res.x, x0)


@pytest.mark.parametrize("own", [False, True])
def test_a_fit_whose_line_search_finds_no_decrease_warns(digits, monkeypatch, own):
    """X scaled by 1e150: the objective is finite, no step decreases it, and
    the fit ends where it started -- with a ConvergenceWarning that says why,
    as scikit-learn warns for L-BFGS-B's ABNORMAL_TERMINATION, not silently."""
    if own:
        monkeypatch.setattr(_lbfgs, "_OWN_LBFGS_PARAMS", 0)
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="no step along its search direction"):
        SoftmaxClassifier(solver="lbfgs").fit(X * 1e150, y)
