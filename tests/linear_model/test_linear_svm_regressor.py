"""LinearSVM and LinearRegressor on the shared solver core: the optima of
LinearSVC and Ridge, Huber against HuberRegressor, layouts, dtypes,
threads, partial_fit and failure modes."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import HuberRegressor, Ridge
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from _checks import standardized
from skce import LinearRegressor, LinearSVM

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    n, d = 300, 8
    X = rng.standard_normal((n, d)) @ rng.uniform(0.3, 1.0, (d, d))   # correlated
    X = StandardScaler().fit_transform(X)
    W = rng.standard_normal((d, 3)) * 3
    Y = X @ W + np.array([3.0, -1.0, 0.5]) + 0.3 * rng.standard_normal((n, 3))
    return X, Y, W


# --------------------------------------------------------------------------
# LinearSVM: the optimum of LinearSVC
# --------------------------------------------------------------------------
def _svm_objective(coef, X, y, C, loss, multi_class, sw=None):
    """LinearSVC's primal objective 1/2 ||W||^2 + C sum_i sw_i loss_i (no intercept)."""
    Z = X @ coef.T
    sw = np.ones(len(y)) if sw is None else sw
    rows = np.arange(len(y))
    if Z.shape[1] == 1:
        h = np.maximum(0, 1 - (2 * y - 1) * Z[:, 0])
        h = h ** 2 if loss == "squared_hinge" else h
    elif multi_class == "ovr":
        Y = -np.ones_like(Z)
        Y[rows, y] = 1
        h = np.maximum(0, 1 - Y * Z)
        h = (h ** 2 if loss == "squared_hinge" else h).sum(1)
    else:
        zt = Z[rows, y].copy()
        Z[rows, y] = -np.inf
        h = np.maximum(0, 1 + Z.max(1) - zt)
        h = h ** 2 if loss == "squared_hinge" else h
    return 0.5 * float(np.sum(coef.astype(np.float64) ** 2)) + C * float(np.sum(sw * h))


SVM_SOLVERS = {
    "sgd_nesterov": dict(solver="sgd", nesterov=True, eta0=0.01, max_iter=2000),
    "adam_cosine": dict(solver="adam", eta0=0.01, learning_rate="cosine", max_iter=3000),
}


@pytest.mark.parametrize("loader, loss, multi_class, solver", [
    (load_breast_cancer, "squared_hinge", "ovr", "sgd_nesterov"),
    (load_breast_cancer, "squared_hinge", "ovr", "adam_cosine"),
    (load_breast_cancer, "hinge", "ovr", "adam_cosine"),
    (load_wine, "squared_hinge", "ovr", "sgd_nesterov"),
    (load_wine, "hinge", "ovr", "adam_cosine"),
    (load_wine, "hinge", "crammer_singer", "adam_cosine"),
])
def test_reaches_linear_svc_optimum(loader, loss, multi_class, solver):
    """fit_intercept=False on both: LinearSVC penalizes its intercept, skce does not."""
    X, y = standardized(loader)
    C = 0.1
    ref = LinearSVC(C=C, loss=loss, multi_class=multi_class, fit_intercept=False, dual=True,
                    tol=1e-12, max_iter=200000).fit(X, y)
    ours = LinearSVM(C=C, loss=loss, multi_class=multi_class, fit_intercept=False,
                     batch_size=len(y), tol=None, random_state=0,
                     **SVM_SOLVERS[solver]).fit(X, y)
    assert ours.coef_.shape == ref.coef_.shape
    assert ours.alpha_ == pytest.approx(1 / (C * len(y)))
    f_ref = _svm_objective(ref.coef_, X, y, C, loss, multi_class)
    f_ours = _svm_objective(ours.coef_, X, y, C, loss, multi_class)
    assert abs(f_ours - f_ref) <= 1e-3 * f_ref, (f_ours, f_ref)
    # skce's own objective (loss_curve_) is the same one divided by C n
    assert ours.loss_curve_[-1] == pytest.approx(f_ours / (C * len(y)), rel=1e-3)


def test_sample_and_class_weights_map_to_linear_svc():
    """alpha = 1 / (C * sum of sample weight x class weight): LinearSVC's C_i."""
    X, y = standardized(load_breast_cancer)
    sw = np.random.default_rng(0).uniform(0.2, 3, len(y))
    cw = {0: 2.0, 1: 0.5}
    C = 0.1
    ref = LinearSVC(C=C, fit_intercept=False, tol=1e-12, max_iter=200000,
                    class_weight=cw).fit(X, y, sample_weight=sw)
    ours = LinearSVM(C=C, fit_intercept=False, batch_size=len(y), tol=None, random_state=0,
                     class_weight=cw, **SVM_SOLVERS["sgd_nesterov"]).fit(X, y, sample_weight=sw)
    s = sw * np.where(y == 0, 2.0, 0.5)
    assert ours.alpha_ == pytest.approx(1 / (C * s.sum()))
    f_ref = _svm_objective(ref.coef_, X, y, C, "squared_hinge", "ovr", s)
    f_ours = _svm_objective(ours.coef_, X, y, C, "squared_hinge", "ovr", s)
    assert abs(f_ours - f_ref) <= 1e-3 * f_ref, (f_ours, f_ref)


# --------------------------------------------------------------------------
# LinearRegressor: Ridge's closed form, Huber
# --------------------------------------------------------------------------
@pytest.mark.parametrize("multi_output", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_reaches_ridge_closed_form(regression, multi_output, weighted):
    X, Y, _ = regression
    y = Y if multi_output else Y[:, 0]
    sw = np.random.default_rng(1).uniform(0.2, 3, len(y)) if weighted else None
    a = 5.0
    ref = Ridge(alpha=a, solver="cholesky").fit(X, y, sample_weight=sw)
    S = len(y) if sw is None else sw.sum()
    ours = LinearRegressor(alpha=a / S, solver="sgd", nesterov=True, eta0=0.1,
                           batch_size=len(y), max_iter=1500, tol=None,
                           random_state=0).fit(X, y, sample_weight=sw)
    assert ours.coef_.shape == ref.coef_.shape
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("shape, fit_intercept", [((300,), True), ((300, 1), True),
                                                  ((300, 3), True), ((300,), False),
                                                  ((300, 2), False)])
def test_shapes_match_ridge(regression, shape, fit_intercept):
    X, Y, _ = regression
    y = Y[:, 0] if len(shape) == 1 else Y[:, :shape[1]]
    ref = Ridge(fit_intercept=fit_intercept).fit(X, y)
    ours = LinearRegressor(fit_intercept=fit_intercept, max_iter=3, tol=None,
                           random_state=0).fit(X, y)
    assert ours.coef_.shape == ref.coef_.shape
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
    assert ours.predict(X).shape == ref.predict(X).shape


def test_huber_resists_outliers():
    rng = np.random.default_rng(0)
    n, d = 400, 5
    X = rng.standard_normal((n, d))
    w = np.array([2.0, -1.0, 0.5, 3.0, 0.0])
    y = X @ w + 1.0 + 0.1 * rng.standard_normal(n)
    bad = rng.choice(n, n // 10, replace=False)
    y_out = y.copy()
    y_out[bad] += rng.uniform(30, 60, len(bad))
    kw = dict(random_state=0, alpha=1e-6, max_iter=300, eta0=0.05, learning_rate="cosine",
              tol=None)
    huber = LinearRegressor(loss="huber", delta=1.0, **kw).fit(X, y_out)
    squared = LinearRegressor(**kw).fit(X, y_out)
    ref = HuberRegressor(alpha=0.0, max_iter=1000).fit(X, y_out)
    err_huber = np.abs(huber.coef_ - w).max()
    err_squared = np.abs(squared.coef_ - w).max()
    assert err_huber < 0.1 and err_squared > 5 * err_huber, (err_huber, err_squared)
    np.testing.assert_allclose(huber.coef_, ref.coef_, atol=0.1)
    assert abs(huber.intercept_ - 1.0) < 0.2 < abs(squared.intercept_ - 1.0)
    X_test = rng.standard_normal((500, d))
    y_test = X_test @ w + 1.0
    assert huber.score(X_test, y_test) > 0.99 > squared.score(X_test, y_test)


# --------------------------------------------------------------------------
# layouts, dtypes, threads
# --------------------------------------------------------------------------
def _models(digits, regression):
    X, y = digits
    Xr, Yr, _ = regression
    return [(LinearSVM, dict(), X, y), (LinearSVM, dict(multi_class="crammer_singer"), X, y),
            (LinearSVM, dict(), X, y > 4),
            (LinearRegressor, dict(), Xr, Yr), (LinearRegressor, dict(loss="huber"), Xr, Yr[:, 0])]


def test_dense_and_csr_give_the_same_model(digits, regression):
    for cls, params, X, y in _models(digits, regression):
        kw = dict(random_state=0, max_iter=5, tol=None, batch_size=64, **params)
        ref = cls(**kw).fit(X, y)
        for Xv in (sp.csr_matrix(X), np.asfortranarray(X)):
            other = cls(**kw).fit(Xv, y)
            np.testing.assert_allclose(other.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(other.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)


def test_float32_is_kept_and_agrees_with_float64(digits, regression):
    for cls, params, X, y in _models(digits, regression):
        # (5 epochs of the minibatch solver: the auto default's 5 L-BFGS steps
        # are at different points of their line searches in float32 and float64)
        kw = dict(random_state=0, max_iter=5, tol=None, **params)
        kw.setdefault("solver", cls._AUTO_MINIBATCH)
        m64 = cls(**kw).fit(X, y)
        m32 = cls(**kw).fit(X.astype(np.float32), y)
        assert m32.coef_.dtype == np.float32
        assert np.asarray(m32.intercept_).dtype == np.float32
        np.testing.assert_allclose(m32.coef_, m64.coef_, atol=5e-4 * np.abs(m64.coef_).max())
        assert m32.predict(X.astype(np.float32)).dtype == \
            (np.float32 if cls is LinearRegressor else m64.predict(X).dtype)


def test_regressor_targets_are_converted_to_x_dtype(regression, monkeypatch):
    from skce._solver import _epoch as _solver
    X, Y, _ = regression
    X32 = X.astype(np.float32)
    seen = []
    real = _solver.epoch_dense

    def spy(s, Xe, order, bs, *args):
        seen.append((Xe, s.Y))
        return real(s, Xe, order, bs, *args)
    monkeypatch.setattr(_solver, "epoch_dense", spy)
    LinearRegressor(solver="sgd", max_iter=2, tol=None).fit(X32, Y)
    assert seen and all(np.shares_memory(a, X32) and t.dtype == np.float32 for a, t in seen)


@pytest.mark.parametrize("cls, params", [(LinearSVM, {}),
                                         (LinearSVM, dict(multi_class="crammer_singer")),
                                         (LinearRegressor, {}),
                                         (LinearRegressor, dict(loss="huber"))])
def test_results_do_not_depend_on_n_jobs(cls, params):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 120))
    T = X[:, :10] @ rng.standard_normal((10, 7))
    y = T.argmax(1) if cls is LinearSVM else T[:, :3]
    kw = dict(random_state=3, max_iter=2, tol=None, batch_size=1024, **params)
    a = cls(n_jobs=1, **kw).fit(X, y)
    b = cls(n_jobs=2, **kw).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    c = cls(n_jobs=2, **kw).fit(sp.csr_matrix(X), y)
    d = cls(n_jobs=1, **kw).fit(sp.csr_matrix(X), y)
    assert np.array_equal(c.coef_, d.coef_)


# --------------------------------------------------------------------------
# API: pipelines, search, pickling, calibration, partial_fit, options
# --------------------------------------------------------------------------
@pytest.mark.slow
def test_svm_pipeline_in_grid_search_and_pickle():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), LinearSVM(random_state=0, max_iter=30))
    grid = GridSearchCV(pipe, {"linearsvm__C": [0.1, 1.0],
                               "linearsvm__multi_class": ["ovr", "crammer_singer"]},
                        cv=3, n_jobs=2).fit(Xtr, ytr)
    assert grid.score(Xte, yte) > 0.93
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.decision_function(Xte),
                                  grid.best_estimator_.decision_function(Xte))


def test_regressor_pipeline_in_grid_search_and_pickle(regression):
    X, Y, _ = regression
    X = X * 10 + 3   # the pipeline standardizes
    pipe = make_pipeline(StandardScaler(), LinearRegressor(random_state=0, batch_size=32,
                                                                 max_iter=50))
    grid = GridSearchCV(pipe, {"linearregressor__alpha": [1e-4, 10.0],
                               "linearregressor__loss": ["squared_error", "huber"]},
                        cv=3, n_jobs=2).fit(X, Y)
    assert grid.best_params_["linearregressor__alpha"] == 1e-4
    assert grid.score(X, Y) > 0.98
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X), grid.best_estimator_.predict(X))


def test_svm_has_no_predict_proba_and_calibrates(digits):
    X, y = digits
    svm = LinearSVM(random_state=0, max_iter=20)
    assert not hasattr(svm, "predict_proba") and not hasattr(svm, "predict_log_proba")
    svm.fit(X, y > 4)
    assert not hasattr(svm, "predict_proba")
    assert svm.decision_function(X).shape == (len(X),) and svm.coef_.shape == (1, 64)
    cal = CalibratedClassifierCV(LinearSVM(random_state=0, max_iter=20), cv=3).fit(X, y)
    proba = cal.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1)
    assert cal.score(X, y) > 0.93


def test_svm_binary_is_one_problem_for_both_multi_class(digits):
    X, y = digits
    kw = dict(random_state=0, max_iter=5, tol=None)
    a = LinearSVM(multi_class="ovr", **kw).fit(X, y == 3)
    b = LinearSVM(multi_class="crammer_singer", **kw).fit(X, y == 3)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.decision_function(X).shape == (len(X),)


def test_svm_options(digits):
    X, y = digits
    kw = dict(random_state=0, max_iter=20, tol=None)
    base = LinearSVM(**kw).fit(X, y)
    assert base.score(X, y) > 0.95
    heavy = LinearSVM(class_weight={3: 50.0}, **kw).fit(X, y)
    assert np.mean(heavy.predict(X) == 3) > np.mean(base.predict(X) == 3)
    via_sw = LinearSVM(**kw).fit(X, y, sample_weight=np.where(y == 3, 50.0, 1.0))
    np.testing.assert_allclose(via_sw.coef_, heavy.coef_, rtol=1e-10, atol=1e-12)
    assert LinearSVM(class_weight="balanced", **kw).fit(X, y).score(X, y) > 0.95
    l1 = LinearSVM(penalty="l1", C=0.01, **kw).fit(X, y)
    assert np.mean(l1.coef_ == 0) > 0.2
    wide = LinearSVM(margin=2.0, **kw).fit(X, y)
    assert np.abs(wide.coef_).sum() > np.abs(base.coef_).sum()
    strong = LinearSVM(C=1e-4, **kw).fit(X, y)
    assert np.abs(strong.coef_).sum() < np.abs(base.coef_).sum()


def test_early_stopping(digits, regression):
    X, y = digits
    svm = LinearSVM(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                    random_state=0, max_iter=200).fit(X, y)
    assert len(svm.validation_scores_) == svm.n_iter_ < 200
    assert svm.best_validation_score_ == max(svm.validation_scores_) > 0.9
    assert svm.alpha_ == pytest.approx(1 / (len(y) - round(0.2 * len(y))), rel=1e-2)
    Xr, Yr, _ = regression
    reg = LinearRegressor(early_stopping=True, n_iter_no_change=3, random_state=0,
                          eta0=0.05, max_iter=500).fit(Xr, Yr)
    assert len(reg.validation_scores_) == reg.n_iter_ < 500
    assert reg.best_validation_score_ == max(reg.validation_scores_) > 0.95


def test_warm_start(regression):
    X, Y, _ = regression
    est = LinearRegressor(random_state=0, max_iter=1, tol=None, warm_start=True)
    seen = [est.fit(X, Y).loss_curve_[-1] for _ in range(5)]
    assert seen[-1] < seen[0]
    svm = LinearSVM(random_state=0, max_iter=1, tol=None, warm_start=True)
    X, y = standardized(load_wine)
    seen = [svm.fit(X, y).loss_curve_[-1] for _ in range(5)]
    assert seen[-1] < seen[0]


def test_svm_partial_fit(digits):
    X, y = digits
    clf = LinearSVM(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    classes = np.arange(10)
    for i in range(0, len(X), 300):
        clf.partial_fit(X[i:i + 300], y[i:i + 300], classes=classes if i == 0 else None)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert clf.alpha_ == pytest.approx(1 / (len(X) - 1500))   # the rows of the last call
    with pytest.raises(ValueError, match=r"labels \[42\] not in classes"):
        clf.partial_fit(X[:3], np.array([1, 42, 2]))
    with pytest.raises(ValueError, match="balanced"):
        clf.set_params(class_weight="balanced").partial_fit(X, y)
    clf.set_params(class_weight=None)
    for _ in range(10):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.93


def test_regressor_partial_fit(regression):
    X, Y, _ = regression
    reg = LinearRegressor(random_state=0, eta0=0.05)
    for _ in range(30):
        for i in range(0, len(X), 100):
            reg.partial_fit(X[i:i + 100], Y[i:i + 100])
    assert reg.coef_.shape == (3, X.shape[1]) and reg.score(X, Y) > 0.98
    coef = reg.coef_.copy()
    reg.partial_fit(X[:0], Y[:0])   # an empty block is a no-op
    np.testing.assert_array_equal(reg.coef_, coef)
    with pytest.raises(ValueError, match="first partial_fit call had 3 targets"):
        reg.partial_fit(X, Y[:, 0])
    one = LinearRegressor(random_state=0).partial_fit(X, Y[:, 0])
    assert one.coef_.shape == (X.shape[1],) and np.ndim(one.intercept_) == 0
    with pytest.raises(ValueError, match="1-D y"):
        one.partial_fit(X, Y[:, :2])


@pytest.mark.parametrize("cls, params, match", [
    (LinearSVM, dict(C=0.0), "'C'"),
    (LinearSVM, dict(loss="log"), "'loss'"),
    (LinearSVM, dict(multi_class="ovo"), "'multi_class'"),
    (LinearSVM, dict(margin=-1.0), "'margin'"),
    (LinearSVM, dict(alpha=0.1), "alpha"),
    (LinearRegressor, dict(loss="absolute_error"), "'loss'"),
    (LinearRegressor, dict(delta=0.0), "'delta'"),
    (LinearRegressor, dict(alpha=-1.0), "'alpha'"),
])
def test_bad_hyperparameters(cls, params, match):
    X, y = standardized(load_wine)
    with pytest.raises((ValueError, TypeError), match=match):
        cls(**params).fit(X, y)


def test_bad_input_messages():
    X, y = standardized(load_wine)
    with pytest.raises(ValueError, match="one class"):
        LinearSVM().fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="Unknown label type"):
        LinearSVM().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearSVM().fit(X, y[:-1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearRegressor().fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 2] = np.nan
    for est in (LinearSVM(), LinearRegressor()):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            est.fit(Xn, y)
        with pytest.raises(ValueError, match=r"sample_weight.shape"):
            est.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Input y contains NaN"):
        LinearRegressor().fit(X, np.where(y == 1, np.nan, y))
    reg = LinearRegressor(max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :3])
