"""solver="newton-cholesky": the optimum of skce's objective for the
elementwise losses, against scikit-learn's own Newton-Cholesky, Ridge's
closed form and LinearSVC; quadratic convergence; what it refuses."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from _checks import fitted_objective
from skce._solver import _newton
from skce._solver._objective import LinearObjective
from skce.linear_model import LinearRegressor, LinearSVM, SoftmaxClassifier


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


_objective = fitted_objective


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_reaches_logistic_regressions_newton_optimum(cancer, sparse,
                                                                          weighted):
    X, y = cancer
    sw = np.random.default_rng(0).random(len(y)) * 2 if weighted else None
    Xf = sp.csr_matrix(X) if sparse else X
    S = len(y) if sw is None else sw.sum()
    clf = SoftmaxClassifier(solver="newton-cholesky", alpha=1.0 / S, tol=1e-10).fit(
        Xf, y, sample_weight=sw)
    ref = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(
        X, y, sample_weight=sw)
    F = _objective(clf, Xf, y, sw)
    f, f_ref = F(clf.coef_, clf.intercept_), F(ref.coef_, ref.intercept_)
    assert (f - f_ref) / f_ref <= 1e-10
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    # quadratic convergence: a handful of iterations, every one a descent
    assert clf.n_iter_ <= 12
    assert np.all(np.diff(clf.loss_curve_) < 0)
    assert clf.loss_curve_[-1] == pytest.approx(f, rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_squared_error_is_ridges_closed_form(sparse):
    X, y = make_regression(400, 12, noise=3.0, random_state=0)
    sw = np.random.default_rng(1).random(400) + 0.5
    alpha = 0.05
    reg = LinearRegressor(solver="newton-cholesky", alpha=alpha, tol=1e-10).fit(
        sp.csr_matrix(X) if sparse else X, y, sample_weight=sw)
    # skce: sum s_i (y_i - x_i w - b)^2 / (2 sum s) + alpha/2 |w|^2; Ridge: sum s_i r_i^2 + a |w|^2
    ref = Ridge(alpha=alpha * sw.sum()).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
    assert reg.intercept_ == pytest.approx(ref.intercept_, rel=1e-10)
    assert reg.n_iter_ <= 2   # a quadratic: one Newton step


def test_several_outputs_are_independent_blocks():
    """Multi-output regression and one-vs-rest squared hinge: per-output
    Newton blocks, against Ridge (several targets) and LinearSVC (3 classes)."""
    X, Y = make_regression(300, 6, n_targets=3, noise=2.0, random_state=5)
    reg = LinearRegressor(solver="newton-cholesky", alpha=0.1, tol=1e-10).fit(X, Y)
    ref = Ridge(alpha=0.1 * 300).fit(X, Y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-10)
    Xc, yc = load_breast_cancer(return_X_y=True)
    Xc = StandardScaler().fit_transform(Xc)
    y3 = yc + (Xc[:, 0] > 1)
    svm = LinearSVM(solver="newton-cholesky", C=0.1, fit_intercept=False, tol=1e-10).fit(Xc, y3)
    svc = LinearSVC(C=0.1, dual=False, fit_intercept=False, tol=1e-12,
                    max_iter=100_000).fit(Xc, y3)
    np.testing.assert_allclose(svm.coef_, svc.coef_, rtol=1e-5, atol=1e-7)


def test_squared_hinge_reaches_linear_svcs_optimum(cancer):
    X, y = cancer
    svm = LinearSVM(solver="newton-cholesky", C=0.1, fit_intercept=False, tol=1e-10).fit(X, y)
    ref = LinearSVC(C=0.1, dual=False, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y)
    F = _objective(svm, X, y)
    f, f_ref = F(svm.coef_, 0.0), F(ref.coef_, 0.0)
    assert (f - f_ref) / f_ref <= 1e-10


def test_huber_matches_lbfgs():
    X, y = make_regression(300, 8, noise=20.0, random_state=2)
    y[:15] += 400   # outliers: rows on both sides of delta
    kw = dict(loss="huber", epsilon=1.0, alpha=0.01)
    newton = LinearRegressor(solver="newton-cholesky", tol=1e-10, **kw).fit(X / 50, y / 50)
    lbfgs = LinearRegressor(solver="lbfgs", tol=1e-12, max_iter=10_000, **kw).fit(X / 50, y / 50)
    F = _objective(newton, X / 50, y / 50)
    f, f_ref = F(newton.coef_, newton.intercept_), F(lbfgs.coef_, lbfgs.intercept_)
    assert (f - min(f, f_ref)) / f_ref <= 1e-10


def test_float32_and_no_intercept(cancer):
    X, y = cancer
    X32 = X.astype(np.float32)
    clf = SoftmaxClassifier(solver="newton-cholesky", fit_intercept=False, tol=1e-5).fit(X32, y)
    assert clf.coef_.dtype == np.float32 and np.all(clf.intercept_ == 0)
    ref = SoftmaxClassifier(solver="newton-cholesky", fit_intercept=False, tol=1e-10).fit(X, y)
    F = _objective(ref, X, y)   # in float64
    f, f_ref = F(clf.coef_, 0.0), F(ref.coef_, 0.0)
    assert (f - f_ref) / f_ref <= 1e-6


def test_integer_weights_equal_repeated_rows(cancer):
    X, y = cancer
    w = np.random.default_rng(3).integers(0, 3, len(y))
    a = SoftmaxClassifier(solver="newton-cholesky", alpha=1e-3, tol=1e-10).fit(
        X, y, sample_weight=w)
    b = SoftmaxClassifier(solver="newton-cholesky", alpha=1e-3, tol=1e-10).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w))
    # (coef to 1e-6: the stopping rules end within float64 resolution of F,
    # which leaves ~1e-8 in the coefficients of this ill-conditioned problem)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)


def test_max_iter_warns_and_callback_stops(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="newton-cholesky failed to converge"):
        SoftmaxClassifier(solver="newton-cholesky", max_iter=1, tol=1e-12).fit(X, y)
    seen = []
    clf = SoftmaxClassifier(solver="newton-cholesky", tol=1e-12).fit(
        X, y, callback=lambda it, coef, b, f: seen.append(f) or it == 2)
    assert len(seen) == 2 == clf.n_iter_ and seen == clf.loss_curve_


def test_what_it_refuses(cancer, monkeypatch):
    X, y = cancer
    y3 = y + (X[:, 0] > 1)
    with pytest.raises(ValueError, match="couples the classes"):
        SoftmaxClassifier(solver="newton-cholesky").fit(X, y3)
    with pytest.raises(ValueError, match="penalty='l2' or None"):
        SoftmaxClassifier(solver="newton-cholesky", penalty="l1").fit(X, y)
    with pytest.raises(ValueError, match="twice differentiable"):
        LinearSVM(solver="newton-cholesky", loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        SoftmaxClassifier(solver="newton-cholesky", early_stopping=True).fit(X, y)
    assert not hasattr(SoftmaxClassifier(solver="newton-cholesky"), "partial_fit")
    monkeypatch.setattr(_newton, "MAX_FEATURES", 10)
    with pytest.raises(ValueError, match="at most 10 features"):
        SoftmaxClassifier(solver="newton-cholesky").fit(X, y)
    # nothing fitted by any of these
    clf = SoftmaxClassifier(solver="newton-cholesky")
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y3)
    assert not hasattr(clf, "coef_")


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_csr_hessian_equals_the_dense_one(index_dtype, dtype, fit_intercept):
    """The C kernel of the CSR Hessian (src/solver/gram.c) against numpy's
    dense X^T diag(c) X, over several chunks, with unsorted column indices."""
    from skce._loss import LOSSES
    from skce._solver import LossSpec
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 9)) * (rng.random((300, 9)) < 0.4)
    Xs = sp.csr_matrix(X.astype(dtype))
    for i in range(0, 300, 7):   # reverse some rows' index order
        a, b = Xs.indptr[i], Xs.indptr[i + 1]
        Xs.indices[a:b], Xs.data[a:b] = Xs.indices[a:b][::-1].copy(), Xs.data[a:b][::-1].copy()
    Xs.indices, Xs.indptr = Xs.indices.astype(index_dtype), Xs.indptr.astype(index_dtype)
    loss = LossSpec.of(LOSSES["binary_cross_entropy"], 1,
                       Y=rng.integers(0, 2, (300, 1)).astype(dtype))
    sw = rng.random(300)
    theta = rng.normal(size=9 + fit_intercept)
    hs = [_newton._hessian(LinearObjective(A, loss, l2=0.1, sample_weight=sw,
                                           fit_intercept=fit_intercept, chunk_rows=64), theta, 0)
          for A in (Xs, X.astype(dtype))]
    np.testing.assert_allclose(hs[0], hs[1], rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-12)
    # the Newton model's own check: H is the Jacobian of the gradient
    obj = LinearObjective(X, loss, l2=0.1, sample_weight=sw, fit_intercept=fit_intercept)
    if dtype == np.float64:
        eps = 1e-6
        fd = np.array([(obj.gradient(theta + eps * e) - obj.gradient(theta - eps * e)) / (2 * eps)
                       for e in np.eye(len(theta))])
        np.testing.assert_allclose(hs[1], fd, rtol=1e-6, atol=1e-8)
