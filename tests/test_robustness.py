"""Robustness: bad input messages, KeyboardInterrupt during fit, divergence,
concurrency (threads) and 64-bit offsets beyond 2**31 elements."""
import os
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import skce._solver._train as solver_train
from skce import SoftmaxClassifier, losses
from skce.calibration import TemperatureScaledClassifier
from skce.exceptions import TrainingDiverged

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def quick(**kw):
    return SoftmaxClassifier(max_iter=2, tol=None, random_state=0, **kw)


# ---------------------------------------------------------------------------
# bad input: the message names the argument (and the fix)
# ---------------------------------------------------------------------------

def _bad(X, y):
    Xnan, Xinf = X.copy(), X.copy()
    Xnan[3, 1], Xinf[5, 0] = np.nan, np.inf
    ynan = y.astype(float)
    ynan[7] = np.nan
    return {
        "nan_X": ((Xnan, y), {}, ValueError, r"X contains NaN"),
        "inf_X": ((Xinf, y), {}, ValueError, r"X contains infinity"),
        "nan_y": ((X, ynan), {}, ValueError, r"y contains NaN"),
        "X_1d": ((X[:, 0], y), {}, ValueError, r"Expected 2D array, got 1D array.*Reshape"),
        "X_3d": ((X[:, :, None], y), {}, ValueError, r"dim 3"),
        "y_2d": ((X, np.c_[y, y]), {}, ValueError, r"y should be a 1d array"),
        "lengths": ((X, y[:-1]), {}, ValueError, r"inconsistent numbers of samples: \[150, 149\]"),
        "empty": ((X[:0], y[:0]), {}, ValueError, r"0 sample\(s\)"),
        "no_features": ((X[:, :0], y), {}, ValueError, r"0 feature\(s\)"),
        "strings": ((np.array([["a", "b"]] * len(y)), y), {}, ValueError,
                    r"X must hold numbers.*OneHotEncoder"),
        "sw_negative": ((X, y), {"sample_weight": -np.ones(len(y))}, ValueError,
                        r"Negative values.*sample_weight.*non-negative"),
        "sw_zero": ((X, y), {"sample_weight": np.zeros(len(y))}, ValueError,
                    # scikit-learn >= 1.9's message, then 1.6-1.8's (ours)
                    r"non-zero.*sample_weight.*positive|sample_weight.*sums to zero.*positive"),
        "sw_length": ((X, y), {"sample_weight": np.ones(3)}, ValueError,
                      r"sample_weight.*\(3,\).*\(150,\)"),
        "sw_nan": ((X, y), {"sample_weight": np.full(len(y), np.nan)}, ValueError,
                   r"sample_weight contains NaN"),
    }


@pytest.mark.parametrize("case", list(_bad(np.zeros((150, 4)), np.zeros(150))))
def test_fit_bad_input_messages(case, iris):
    X, y = iris
    (Xb, yb), kw, exc, match = _bad(X, y)[case]
    clf = quick()
    with pytest.raises(exc, match="(?s)" + match):
        clf.fit(Xb, yb, **kw)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


def test_single_class_and_class_weight_messages(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"at least 2 classes.*only one class: \[1\]"):
        quick().fit(X, np.ones(len(y), dtype=int))
    with pytest.raises(ValueError, match=r"class_weight must map.*non-negative.*\{0: -1\.0\}"):
        quick(class_weight={0: -1.0, 1: 1.0}).fit(X, y)
    with pytest.raises(ValueError, match=r"class_weight must map.*nan"):
        quick(class_weight={2: float("nan")}).fit(X, y)
    with pytest.raises(ValueError, match=r"sums to zero.*positive weight"):
        quick(class_weight={0: 0.0, 1: 0.0, 2: 0.0}).fit(X, y)
    # a zero class weight is allowed (ignores that class)
    quick(class_weight={0: 0.0}).fit(X, y)


def test_partial_fit_label_messages(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"classes must be passed on the first call"):
        quick().partial_fit(X, y)
    with pytest.raises(ValueError, match=r"y contains labels \[2\] not in classes \[0, 1\]"):
        quick().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"at least 2 labels"):
        quick().partial_fit(X, y, classes=[0])
    clf = quick().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"differs from the classes of the first"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"y contains labels \[7\] not in classes"):
        clf.partial_fit(X[:2], [0, 7])
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        clf.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match=r"'balanced'.*partial_fit.*dict"):
        quick(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("params, match", [
    (dict(eta0=-1.0), r"'eta0' parameter.*range \(0.0, inf\)"),
    (dict(alpha=-1.0), r"'alpha' parameter.*\[0.0, inf\)"),
    (dict(max_iter=0), r"'max_iter' parameter.*\[1, inf\)"),
    (dict(tol=-1.0), r"'tol' parameter"),
    (dict(batch_size=0), r"'batch_size' parameter"),
    (dict(momentum=1.5), r"'momentum' parameter.*\[0.0, 1.0\)"),
    (dict(beta_2=1.0), r"'beta_2' parameter"),
    (dict(epsilon=0.0), r"'epsilon' parameter"),
    (dict(validation_fraction=1.0), r"'validation_fraction' parameter"),
    (dict(l1_ratio=2.0), r"'l1_ratio' parameter"),
    (dict(n_iter_no_change=0), r"'n_iter_no_change' parameter"),
    (dict(label_smoothing=-0.1), r"'label_smoothing' parameter"),
    (dict(power_t=-1.0), r"'power_t' parameter"),
    (dict(learning_rate="optimal"), r"'learning_rate' parameter"),
    (dict(class_weight="auto"), r"'class_weight' parameter"),
    (dict(n_jobs="all"), r"'n_jobs' parameter"),
    (dict(n_jobs=0), r"n_jobs=0 is not valid.*-1 for all CPUs"),
    (dict(nesterov=True, solver="adam"), r"nesterov=True needs solver='sgd'"),
])
def test_out_of_range_hyperparameters(params, match, iris):
    X, y = iris
    kw = dict(max_iter=2, tol=None, random_state=0)
    kw.update(params)
    with pytest.raises(ValueError, match=match):
        SoftmaxClassifier(**kw).fit(X, y)


def test_predict_before_fit_and_with_other_features(iris):
    X, y = iris
    clf = quick()
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(clf, method)(X)
    clf.fit(X, y)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(ValueError, match=r"X has 3 features, but SoftmaxClassifier is "
                                             r"expecting 4 features"):
            getattr(clf, method)(X[:, :3])
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        clf.predict(Xnan)


def test_temperature_scaled_classifier_bad_input(iris):
    X, y = iris
    T = lambda **kw: TemperatureScaledClassifier(quick(), random_state=0, **kw)  # noqa: E731
    Xnan = X.copy()
    Xnan[4, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        T().fit(Xnan, y)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples"):
        T().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"empty \(0 samples\).*needs labelled samples"):
        T().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="requires y to be passed"):
        T().fit(X, None)
    with pytest.raises(ValueError, match=r"temperature_bounds must be \(low, high\)"):
        T(temperature_bounds=(2.0, 1.0)).fit(X, y)
    with pytest.raises(ValueError, match=r"'validation_fraction' parameter"):
        T(validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match=r"X must hold numbers"):
        T().fit(np.array([["a", "b"]] * len(y)), y)
    with pytest.raises(ValueError, match=r"Negative values.*sample_weight"):
        T().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(NotFittedError):
        T().predict_proba(X)
    with pytest.raises(NotFittedError):   # prefit needs a fitted estimator
        TemperatureScaledClassifier(quick(), prefit=True).fit(X, y)
    cal = T().fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4"):
        cal.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match=r"labels the fitted estimator does not know"):
        TemperatureScaledClassifier(quick().fit(X[y < 2], y[y < 2]), prefit=True).fit(X, y)


# ---------------------------------------------------------------------------
# KeyboardInterrupt: the estimator is updated only when a call completes
# ---------------------------------------------------------------------------

def _interrupt_at(epoch):
    seen = []

    def callback(e, coef, intercept, objective):
        seen.append(e)
        if e == epoch:
            raise KeyboardInterrupt
    return callback, seen


@pytest.mark.parametrize("sparse", [False, True])
def test_keyboard_interrupt_leaves_estimator_unfitted(digits, sparse):
    X, y = digits
    X = sp.csr_matrix(X) if sparse else X
    clf = SoftmaxClassifier(random_state=0, tol=None, max_iter=10)
    callback, seen = _interrupt_at(3)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y, callback=callback)
    assert seen == [1, 2, 3]
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    for attr in ("coef_", "intercept_", "n_iter_", "loss_curve_", "_solver_state", "t_"):
        assert not hasattr(clf, attr), attr
    # it can still be fitted normally afterwards, as a fresh estimator
    a = clf.fit(X, y).coef_
    b = SoftmaxClassifier(random_state=0, tol=None, max_iter=10).fit(X, y).coef_
    np.testing.assert_array_equal(a, b)


def test_keyboard_interrupt_keeps_the_previous_fit(digits):
    X, y = digits
    clf = SoftmaxClassifier(random_state=0, tol=None, max_iter=4).fit(X, y)
    before = {k: np.copy(getattr(clf, k)) for k in ("coef_", "intercept_", "n_iter_", "t_")}
    theta = clf._solver_state.theta.copy()
    for kw in (dict(), dict(warm_start=True), dict(solver="sgd")):
        clf.set_params(**kw)
        callback, seen = _interrupt_at(3)
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y, callback=callback)
        assert seen == [1, 2, 3]
        for k, v in before.items():
            np.testing.assert_array_equal(getattr(clf, k), v, err_msg=k)
        np.testing.assert_array_equal(clf._solver_state.theta, theta)
    check_is_fitted(clf)
    # partial_fit afterwards continues from the previous fit, as if nothing happened
    clf.set_params(warm_start=False, solver="adam")
    ref = SoftmaxClassifier(random_state=0, tol=None, max_iter=4).fit(X, y)
    np.testing.assert_array_equal(clf.partial_fit(X, y).coef_, ref.partial_fit(X, y).coef_)


# ---------------------------------------------------------------------------
# divergence: TrainingDiverged, never NaN/inf coefficients
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["huge_X", "huge_eta0"])
def test_divergence_never_leaves_nonfinite_coefficients(solver, sparse, dtype, how, digits):
    X, y = digits
    if how == "huge_X":
        X = X * (1e30 if dtype == np.float32 else 1e150)
        eta0 = 1e6 if solver == "sgd" else 1e12
    else:
        eta0 = 3e38 if dtype == np.float32 else 1e306
    X = X.astype(dtype)
    X = sp.csr_matrix(X) if sparse else X
    kw = dict(solver=solver, eta0=eta0, alpha=0.0, random_state=0, tol=None, max_iter=20,
              learning_rate="constant")
    seen = []

    def callback(epoch, coef, intercept, objective):
        seen.append((np.isfinite(coef).all() and np.isfinite(intercept).all(), objective))
    clf = SoftmaxClassifier(**kw)
    if solver == "adam" and how == "huge_X":
        # Adam's steps are bounded by eta0 whatever the gradient: no overflow,
        # but an objective far above the constant model's, which is divergence
        with pytest.raises(TrainingDiverged, match=r"objective after epoch.*standardize X"):
            clf.fit(X, y, callback=callback)
        assert not hasattr(clf, "coef_")
    else:
        rate = re.escape(f"{eta0:g}")
        with pytest.raises(TrainingDiverged, match=rf"learning rate {rate}.*Lower eta0") as info:
            clf.fit(X, y, callback=callback)
        assert isinstance(info.value, ValueError) and isinstance(info.value, FloatingPointError)
        assert not hasattr(clf, "coef_")
    assert all(ok for ok, _ in seen), "a callback saw non-finite coefficients"
    # a previously fitted model survives a diverging partial_fit unchanged
    # (steps small for |X| up to 16 * scale: not diverging)
    scale = 1e30 if how == "huge_X" and dtype == np.float32 else 1e150 if how == "huge_X" else 1
    good = SoftmaxClassifier(random_state=0, tol=None, max_iter=2, eta0=1e-3 / scale).fit(X, y)
    coef = good.coef_.copy()
    good.set_params(**{k: v for k, v in kw.items() if k != "max_iter"})
    for _ in range(5):
        try:
            good.partial_fit(X, y)
        except TrainingDiverged:
            np.testing.assert_array_equal(good.coef_, coef)
            break
        coef = good.coef_.copy()
    assert np.isfinite(good.coef_).all() and np.isfinite(good.intercept_).all()


# ---------------------------------------------------------------------------
# concurrency
# ---------------------------------------------------------------------------

def test_concurrent_fits_equal_sequential_fits(digits):
    X, y = digits
    X32 = X.astype(np.float32)
    Xs = sp.csr_matrix(X)
    jobs = [  # (estimator params, X) - different and equal data
        (dict(random_state=0), X), (dict(random_state=0), X), (dict(random_state=1), X),
        (dict(random_state=0, solver="sgd"), Xs), (dict(random_state=0), X32),
        (dict(random_state=2, batch_size=32), X), (dict(random_state=0, solver="sgd"), Xs),
        (dict(random_state=0), X32),
    ]

    def fit(job):
        params, data = job
        return SoftmaxClassifier(max_iter=3, tol=None, **params).fit(data, y).coef_
    sequential = [fit(job) for job in jobs]
    for _ in range(2):
        with ThreadPoolExecutor(max_workers=4) as ex:
            concurrent = list(ex.map(fit, jobs))
        for a, b in zip(sequential, concurrent):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sequential[0], sequential[1])


def test_concurrent_losses_are_identical():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 37))
    t = rng.integers(0, 37, 3000)
    y = rng.standard_normal((3000, 37))
    z = rng.standard_normal((2, 200, 16))
    calls = [
        lambda: losses.cross_entropy(x, t, label_smoothing=0.1, return_grad=True),
        lambda: losses.nll_loss(x, t, return_grad=True),
        lambda: losses.multi_margin_loss(x, t, p=2, return_grad=True),
        lambda: losses.multi_margin_loss(x, t, kind="crammer_singer", return_grad=True),
        lambda: losses.binary_cross_entropy_with_logits(x, np.abs(np.tanh(y)),
                                                        return_grad=True),
        lambda: losses.hinge_loss(x, np.sign(y), return_grad=True),
        lambda: losses.mse_loss(x, y, return_grad=True),
        lambda: losses.huber_loss(x, y, return_grad=True),
        lambda: (losses.softmax(x), losses.log_softmax(x.T, dim=0)),
        lambda: losses.nt_xent(z[0], z[1], return_grad=True),
    ]
    expected = [c() for c in calls]

    def flat(r):
        out = []
        for v in (r if isinstance(r, tuple) else (r,)):
            out.extend(flat(v) if isinstance(v, tuple) else [np.asarray(v).tobytes()])
        return out
    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(lambda i: calls[i % len(calls)](), range(4 * len(calls))))
    for i, r in enumerate(results):
        assert flat(r) == flat(expected[i % len(calls)]), i


def test_blas_limit_is_entered_once_and_restored_once(monkeypatch):
    """The training loop's BLAS limit under concurrent use: one limiter, set
    by the first fit in and restored by the last one out (with nested
    per-fit limiters, out-of-order exits left BLAS single-threaded)."""
    events = []

    class Limiter:
        def restore_original_limits(self):
            events.append("restore")

    class Controller:
        def __init__(self):
            events.append("scan")

        def limit(self, limits, user_api):
            events.append("limit")
            return Limiter()
    monkeypatch.setattr(solver_train, "_controller", None)
    monkeypatch.setattr(solver_train, "ThreadpoolController", Controller)
    barrier = threading.Barrier(4)

    def worker():
        with solver_train._single_threaded_blas():
            barrier.wait()   # all four inside at once
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert events == ["scan", "limit", "restore"]
    with solver_train._single_threaded_blas():
        pass
    assert events == ["scan", "limit", "restore", "limit", "restore"]
    assert solver_train._blas_users == 0


# ---------------------------------------------------------------------------
# 64-bit offsets: rows read beyond element 2**31 (sparse files, no RAM)
# ---------------------------------------------------------------------------

BEYOND = 2**31 + 12345   # elements


@pytest.fixture(scope="module")
def sparse_file():
    """A file of ~(2**31 + 2**20) float64 elements that costs no disk until
    written (a sparse file), or a skip where sparse files are unavailable."""
    d = tempfile.mkdtemp()
    path = os.path.join(d, "big.bin")
    n_elements = BEYOND + 2**20
    try:
        with open(path, "wb") as f:
            f.truncate(n_elements * 8)
        st = os.stat(path)
        if getattr(st, "st_blocks", 0) * 512 > 2**24:
            pytest.skip("the filesystem does not create sparse files")
    except OSError as exc:
        pytest.skip(f"cannot create a large sparse file: {exc}")
    yield path, n_elements
    os.remove(path)
    os.rmdir(d)


def _far_view(path, n_elements, dtype, n, C, row_step):
    """(n, C) view whose row i starts at element BEYOND' + i * row_step of the
    file (BEYOND' > 2**31 elements), written with data; offsets from the
    view's base pointer are < 2**31 only if the kernels use 64-bit
    arithmetic for strides * index (the row step is > 2**31 / n elements)."""
    item = np.dtype(dtype).itemsize
    total = n_elements * 8 // item
    mm = np.memmap(path, dtype=dtype, mode="r+", shape=(total,))
    start = 1000
    view = np.lib.stride_tricks.as_strided(mm[start:], shape=(n, C),
                                           strides=(row_step * item, item))
    return mm, view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_read_rows_beyond_2_31_elements(sparse_file, dtype):
    path, n_elements = sparse_file
    item = np.dtype(dtype).itemsize
    n, C = 4, 5
    total = n_elements * 8 // item
    row_step = (total - 1000 - C) // (n - 1)      # rows spread over the whole file
    assert (n - 1) * row_step > 2**31
    mm, x = _far_view(path, n_elements, dtype, n, C, row_step)
    rng = np.random.default_rng(0)
    vals = rng.standard_normal((n, C)).astype(dtype)
    x[...] = vals
    mm.flush()
    t = np.array([0, 3, 1, 4])
    for xi, ref_x in ((x, vals), (x[::-1], vals[::-1]), (x[1:], vals[1:])):
        t = np.array([0, 3, 1, 4])[:len(ref_x)]
        loss, grad = losses.cross_entropy(xi, t, reduction="sum", return_grad=True)
        ref_loss, ref_grad = losses.cross_entropy(ref_x.copy(), t, reduction="sum",
                                                  return_grad=True)
        assert loss == ref_loss
        np.testing.assert_array_equal(grad, ref_grad)
        lse = np.log(np.exp(ref_x.astype(np.float64)).sum(1))
        np.testing.assert_allclose(loss, (lse - ref_x[np.arange(len(t)), t]).sum(), rtol=1e-5)
    y = np.sign(rng.standard_normal((n, C))).astype(dtype)
    for fn, target, ref in (
            (losses.hinge_loss, y, np.maximum(0, 1 - y * vals).sum()),
            (losses.mse_loss, y, ((vals.astype(np.float64) - y) ** 2).sum())):
        loss, grad = fn(x, target, reduction="sum", return_grad=True)
        np.testing.assert_allclose(loss, ref, rtol=1e-5)
        loss2, grad2 = fn(vals.copy(), target, reduction="sum", return_grad=True)
        np.testing.assert_allclose(loss, loss2, rtol=1e-6)   # (the flat path sums in
        np.testing.assert_array_equal(grad, grad2)           # another order)
    # a (C, n) transposed view: the column stride is the huge one
    np.testing.assert_array_equal(losses.softmax(x.T, dim=0),
                                  losses.softmax(vals.T.copy(), dim=0))
    del mm, x


def test_softmax_classifier_on_rows_past_2_31_bytes(sparse_file, digits):
    """Training on a memmap view whose rows start past 2**31 * itemsize bytes."""
    path, n_elements = sparse_file
    Xd, y = digits
    n, d = Xd.shape
    offset = 2**31 + 7 * d          # elements: the first row begins past 2**31 * 8 bytes
    mm = np.memmap(path, dtype=np.float64, mode="r+", offset=0, shape=(n_elements,))
    X = mm[offset:offset + n * d].reshape(n, d)
    X[...] = Xd
    far = np.memmap(path, dtype=np.float64, mode="r", offset=offset * 8, shape=(n, d))
    kw = dict(random_state=0, max_iter=3, tol=None)
    ref = SoftmaxClassifier(**kw).fit(Xd, y)
    strided = np.lib.stride_tricks.as_strided(   # every third row of the far data
        mm[offset:], shape=(n // 3, d), strides=(8 * 3 * d, 8))
    for data, y_data in ((X, y), (far, y), (strided, y[::3][:n // 3])):
        clf = SoftmaxClassifier(**kw).fit(data, y_data)
        copy = SoftmaxClassifier(**kw).fit(np.array(data), y_data)
        np.testing.assert_array_equal(clf.coef_, copy.coef_)
        np.testing.assert_array_equal(clf.predict(data), copy.predict(np.array(data)))
    np.testing.assert_array_equal(SoftmaxClassifier(**kw).fit(far, y).coef_, ref.coef_)
    del mm, X, far
