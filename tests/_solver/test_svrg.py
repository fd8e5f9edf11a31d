"""solver="svrg": the optimum of skce's objective (against solver="lbfgs" and
scikit-learn's solvers), the variance-reduced epoch itself, its step
safeguard and stopping rule, threads, and the estimator plumbing."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_wine, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from _checks import fitted_objective, standardized
from skce._loss import LOSSES
from skce._solver import EpochSettings, LossSpec, OptimizerSpec, SolverState
from skce._solver import _epoch as _solver
from skce._solver import _svrg, _train
from skce._solver._objective import LinearObjective
from skce.exceptions import TrainingDiverged
from skce.linear_model import LinearRegressor, LinearSVM, SoftmaxClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def cancer():
    return standardized(load_breast_cancer)


@pytest.fixture(scope="module")
def wine():
    return standardized(load_wine)


@pytest.fixture(scope="module")
def regression():
    X, Y = make_regression(400, 12, n_targets=3, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), Y / Y.std()


_objective = fitted_objective


def _suboptimality(est, ref, X, y, sw=None):
    """(F(est) - F(ref)) / F(ref) in the problem of `est` (negative: est is better)."""
    F = _objective(est, X, y, sw)
    f, f_ref = F(est.coef_, est.intercept_), F(ref.coef_, ref.intercept_)
    return (f - f_ref) / f_ref


def _fit_both(make, X, y, sw=None, **kw):
    """(svrg fit, lbfgs fit) of the estimator `make(solver=..., **kw)` at tol 1e-10."""
    fits = []
    for solver in ("svrg", "lbfgs"):
        est = make(solver=solver, tol=1e-10, max_iter=3000, random_state=0, **kw)
        fits.append(est.fit(X, y, sample_weight=sw))
    return fits


def _sparse(X):
    return sp.csr_matrix(np.where(np.abs(X) < 0.7, 0.0, X))


# --------------------------------------------------------------------------
# the optimum
# --------------------------------------------------------------------------
CASES = {
    "binary_ce": (SoftmaxClassifier, "cancer", {}),
    "multinomial_ce": (SoftmaxClassifier, "wine", {}),
    "squared_hinge": (LinearSVM, "cancer", dict(C=0.1)),
    "squared_hinge_ovr": (LinearSVM, "wine", dict(C=0.1)),
    "squared_error": (LinearRegressor, "regression", dict(alpha=1e-3)),
    "huber": (LinearRegressor, "regression", dict(alpha=1e-3, loss="huber", delta=0.5)),
}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", CASES)
def test_reaches_the_lbfgs_optimum(case, sparse, request):
    make, data, kw = CASES[case]
    X, y = request.getfixturevalue(data)
    if sparse:
        X = _sparse(X)
    if make is SoftmaxClassifier:
        kw = dict(kw, alpha=1.0 / X.shape[0])   # LogisticRegression(C=1)'s problem
    svrg, lbfgs = _fit_both(make, X, y, **kw)
    assert svrg.n_iter_ < 3000
    assert abs(_suboptimality(svrg, lbfgs, X, y)) <= 1e-9
    # the loss curve: the exact objective after every epoch, never rising
    assert svrg.loss_curve_[-1] == pytest.approx(
        _objective(svrg, X, y)(svrg.coef_, svrg.intercept_), rel=1e-12)
    assert np.all(np.diff(svrg.loss_curve_) <= 1e-12 * svrg.loss_curve_[-1])


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_optimum(cancer, fit_intercept):
    X, y = cancer
    sw = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    svrg, lbfgs = _fit_both(SoftmaxClassifier, X, y, sw, alpha=1e-3,
                            fit_intercept=fit_intercept)
    assert abs(_suboptimality(svrg, lbfgs, X, y, sw)) <= 1e-9
    if not fit_intercept:
        assert np.all(svrg.intercept_ == 0)


def test_weighted_regression_is_ridge(regression):
    X, Y = regression
    sw = np.random.default_rng(1).random(len(X)) + 0.5
    a = 3.0
    reg = LinearRegressor(solver="svrg", alpha=a / sw.sum(), tol=1e-10, max_iter=3000,
                          random_state=0).fit(X, Y, sample_weight=sw)
    ref = Ridge(alpha=a, solver="cholesky").fit(X, Y, sample_weight=sw)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_float32_trains_in_float32(wine, sparse):
    X, y = wine
    X32 = X.astype(np.float32)
    if sparse:
        X, X32 = _sparse(X), _sparse(X).astype(np.float32)
    kw = dict(solver="svrg", alpha=1e-2, tol=1e-6, max_iter=3000, random_state=0)
    c32 = SoftmaxClassifier(**kw).fit(X32, y)
    assert c32.coef_.dtype == np.float32
    ref = SoftmaxClassifier(**dict(kw, solver="lbfgs", tol=1e-10)).fit(X, y)
    assert abs(_suboptimality(c32, ref, X, y)) <= 1e-6


def test_the_gradient_stopping_rule(wine):
    """tol bounds the max-norm of the objective's gradient at the result, as
    LogisticRegression's lbfgs tol: a looser tol stops in fewer epochs."""
    X, y = wine
    n_iter = {}
    for tol in (1e-3, 1e-7):
        clf = SoftmaxClassifier(solver="svrg", alpha=1e-2, tol=tol, max_iter=3000,
                                random_state=0).fit(X, y)
        loss = clf._loss_spec(np.searchsorted(clf.classes_, y), X.dtype)
        obj = LinearObjective(X, loss, l2=1e-2)
        grad = obj.gradient(obj.pack(clf.coef_.T, clf.intercept_))
        assert np.abs(grad).max() <= tol
        n_iter[tol] = clf.n_iter_
    assert n_iter[1e-3] < n_iter[1e-7] < 3000


# --------------------------------------------------------------------------
# L1: Prox-SVRG
# --------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("penalty,l1_ratio", [("l1", 1.0), ("elasticnet", 0.5)])
def test_l1_reaches_the_saga_optimum(cancer, penalty, l1_ratio):
    X, y = cancer
    n, C = len(y), 0.5
    clf = SoftmaxClassifier(solver="svrg", penalty=penalty, l1_ratio=l1_ratio,
                            alpha=1.0 / (C * n), tol=1e-10, max_iter=5000,
                            random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LogisticRegression(l1_ratio=l1_ratio, C=C, solver="saga", tol=1e-12,
                                 max_iter=100_000).fit(X, y)
    assert abs(_suboptimality(clf, ref, X, y)) <= 1e-6
    # the soft-threshold step gives exact zeros, those of the optimum
    assert 0 < np.sum(clf.coef_ == 0) < X.shape[1]
    np.testing.assert_array_equal(clf.coef_ == 0, np.abs(ref.coef_) < 1e-6)


# --------------------------------------------------------------------------
# the variance-reduced epoch
# --------------------------------------------------------------------------
def _settings(X, loss, alpha, eta, theta, n_threads=1):
    state = SolverState.new(X.shape[1], loss.n_outputs, X.dtype, eta)
    state.theta[:] = theta
    opt = OptimizerSpec(solver="svrg", alpha=alpha, momentum=0.0)
    return state, EpochSettings(loss, opt, state, n_threads=n_threads)


def _snapshot(X, loss, alpha, theta):
    snap = _svrg.Snapshot(X, loss, 0.0, alpha)
    snap.refresh(theta)
    return snap


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_batch_epoch_is_a_gradient_step(wine, dtype):
    """One batch of all rows from theta = snapshot: g_B(theta) - g_B(snapshot)
    vanishes and the step is exactly gradient descent on F."""
    X, y = wine
    X = X.astype(dtype)
    loss = LossSpec.of(LOSSES["cross_entropy"], 3, y=y.astype(np.int64))
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(X.shape[1] * 3 + 3).astype(dtype)
    alpha, eta = 0.1, 0.5
    snap = _snapshot(X, loss, alpha, theta)
    state, settings = _settings(X, loss, alpha, eta, theta)
    settings.set_snapshot(snap.G, snap.mu, snap.scale)
    _solver.epoch_dense(settings, X, np.arange(len(y), dtype=np.int64), len(y))
    obj = LinearObjective(X, loss, l2=alpha)
    expected = theta - eta * obj.gradient(theta.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(state.theta, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_minibatch_epoch_stays_at_the_optimum(wine, sparse):
    """At the optimum the corrected minibatch gradients vanish: an SVRG epoch
    does not move, where plain SGD steps with the same step size do."""
    X, y = wine
    n = len(y)
    opt = SoftmaxClassifier(solver="lbfgs", alpha=1e-2, tol=1e-12, max_iter=5000).fit(X, y)
    theta = np.concatenate([opt.coef_.T.ravel(), opt.intercept_])
    if sparse:
        X = sp.csr_matrix(X)
    loss = LossSpec.of(LOSSES["cross_entropy"], 3, y=y.astype(np.int64))
    snap = _snapshot(X, loss, 1e-2, theta)
    order = np.random.default_rng(0).permutation(n).astype(np.int64)
    moved = {}
    for svrg in (True, False):
        state, settings = _settings(X, loss, 1e-2, 0.5, theta)
        if svrg:
            settings.set_snapshot(snap.G, snap.mu, snap.scale)
        _train._run_epoch(X, order, 16, settings)
        moved[svrg] = np.abs(state.theta - theta).max()
    # (lbfgs's optimum is one to ~1e-9: its gradient moves svrg a little)
    assert moved[True] < 1e-5 * moved[False] and moved[False] > 1e-3


def test_set_snapshot_checks_its_arrays(wine):
    X, y = wine
    loss = LossSpec.of(LOSSES["cross_entropy"], 3, y=y.astype(np.int64))
    theta = np.zeros(X.shape[1] * 3 + 3)
    _, settings = _settings(X, loss, 0.0, 0.1, theta)
    with pytest.raises(ValueError, match="row_gradients"):
        settings.set_snapshot(np.zeros((len(y), 2)), theta.copy(), 1.0)
    with pytest.raises(ValueError, match="mean_gradient"):
        settings.set_snapshot(np.zeros((len(y), 3)), np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="row_gradients"):
        settings.set_snapshot(np.zeros((len(y), 3), np.float32), theta.copy(), 1.0)
    # rows of another X: refused by the epoch (it reads them by row index)
    settings.set_snapshot(np.zeros((len(y) - 1, 3)), theta.copy(), 1.0)
    order = np.arange(len(y), dtype=np.int64)
    with pytest.raises(ValueError, match="rows"):
        _solver.epoch_dense(settings, X, order, 16)
    with pytest.raises(ValueError, match="rows"):
        Xs = sp.csr_matrix(X)
        _solver.epoch_csr(settings, Xs.data, Xs.indices, Xs.indptr, X.shape[1], order, 16)


# --------------------------------------------------------------------------
# the step, its safeguard, threads
# --------------------------------------------------------------------------
def test_too_large_a_step_is_halved_and_still_converges(wine, monkeypatch, capsys):
    """A step 1000x the smoothness bound's makes epochs raise the objective:
    each is undone with half the step, and the fit still reaches the optimum
    with a loss curve that never rises."""
    X, y = wine
    monkeypatch.setattr(_train, "STEP_FACTOR", 1e-3)
    clf = SoftmaxClassifier(solver="svrg", alpha=1e-2, tol=1e-9, max_iter=3000,
                            random_state=0, verbose=1).fit(X, y)
    assert "halved" in capsys.readouterr().out
    assert np.all(np.diff(clf.loss_curve_) <= 1e-12 * clf.loss_curve_[-1])
    ref = SoftmaxClassifier(solver="lbfgs", alpha=1e-2, tol=1e-10).fit(X, y)
    assert abs(_suboptimality(clf, ref, X, y)) <= 1e-9


def test_smoothness_of_squared_error_bounds_the_hessian(regression):
    """For the squared error the bound is the Hessian's norm itself (full
    batch: L_full, the second moment's top eigenvalue, plus alpha)."""
    X, _ = regression
    Xt = np.hstack([X, np.ones((len(X), 1))])
    top = np.linalg.eigvalsh(Xt.T @ Xt / len(X))[-1]
    L = _svrg.smoothness(X, LOSSES["squared_error"].curvature, None, True, len(X), 0.1)
    assert L == pytest.approx(top + 0.1, rel=1e-3)
    # one-row batches: the largest row's
    L1 = _svrg.smoothness(X, 1.0, None, True, 1, 0.0)
    assert L1 == pytest.approx(np.max(np.sum(Xt ** 2, axis=1)), rel=1e-12)


def test_results_do_not_depend_on_n_jobs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 200))
    y = np.argmax(X[:, :10] + rng.gumbel(size=(3000, 10)), axis=1)
    fits = [SoftmaxClassifier(solver="svrg", alpha=1e-3, tol=0, max_iter=3, random_state=0,
                              n_jobs=n_jobs).fit(X, y) for n_jobs in (1, 2)]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)
    assert fits[0].loss_curve_ == fits[1].loss_curve_


def test_warm_start_at_the_optimum_takes_no_epoch(wine):
    X, y = wine
    clf = SoftmaxClassifier(solver="svrg", alpha=1e-2, tol=1e-6, max_iter=3000,
                            warm_start=True, random_state=0).fit(X, y)
    coef = clf.coef_.copy()
    clf.fit(X, y)
    assert clf.n_iter_ == 0 and clf.loss_curve_ == []
    np.testing.assert_array_equal(clf.coef_, coef)


# --------------------------------------------------------------------------
# what svrg rejects
# --------------------------------------------------------------------------
@pytest.mark.parametrize("est", [LinearSVM(solver="svrg", loss="hinge"),
                                 LinearSVM(solver="svrg", loss="hinge",
                                           multi_class="crammer_singer"),
                                 LinearSVM(solver="svrg", multi_class="crammer_singer")],
                         ids=["hinge", "multi_margin", "squared_crammer_singer"])
def test_non_smooth_losses_are_rejected(wine, est):
    X, y = wine
    with pytest.raises(ValueError, match="solver='svrg' needs a smooth loss"):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


def test_no_partial_fit_nor_early_stopping(wine):
    X, y = wine
    clf = SoftmaxClassifier(solver="svrg")
    assert not hasattr(clf, "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        SoftmaxClassifier(solver="svrg", early_stopping=True).fit(X, y)


def test_overflowing_start_raises_and_leaves_the_model(regression):
    X, Y = regression
    reg = LinearRegressor(solver="svrg", warm_start=True, max_iter=2).fit(X, Y)
    reg.coef_ = np.full_like(reg.coef_, 1e200)
    coef = reg.coef_.copy()
    with pytest.raises(TrainingDiverged, match="not finite at the starting parameters"):
        reg.fit(X, Y)
    np.testing.assert_array_equal(reg.coef_, coef)
