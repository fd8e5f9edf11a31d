"""skce.dask: data-parallel L-BFGS on a LocalCluster(n_workers=2, threads_per_worker=1).

Oracles: scikit-learn's LogisticRegression / LinearSVC / Ridge optima (relative
suboptimality of skce's objective), the same fit with another chunking, and
the plain in-memory estimators."""
import os
import signal

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import LinearSVC

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import skce  # noqa: E402
import skce.dask as skd  # noqa: E402
from skce._solver._objective import LinearObjective  # noqa: E402
from skce.dask import _blocks  # noqa: E402


def _local_client():
    """A client on a LocalCluster(2 worker processes, 1 thread each).

    Closing a SpecCluster whose nannies restarted a killed worker can raise
    KeyError from distributed's own worker-status bookkeeping
    (SpecCluster._update_worker_status, dask/distributed#5407): a race in the
    cluster's teardown, after every assertion has run, not skce's behaviour.
    Only that error is tolerated, and only at close."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    try:
        with distributed.Client(cluster) as c:
            yield c
    finally:
        try:
            cluster.close()
        except KeyError:
            pass


@pytest.fixture(scope="module")
def client():
    yield from _local_client()


@pytest.fixture
def killable_client():
    """A cluster of its own for the tests that SIGKILL workers, so that the
    shared one never holds restarted workers."""
    yield from _local_client()


def _objective(est, X, y, sample_weight=None):
    """skce's objective (the in-memory LinearObjective) at est's coefficients."""
    local = est.to_local() if hasattr(est, "to_local") else est
    if hasattr(local, "classes_"):
        y_idx = local._encode(y)
        loss = local._loss_spec(y_idx, X.dtype)
        sw = local._weights(X, sample_weight, y_idx)
    else:
        loss = local._loss_spec(local._targets(X, y))
        sw = None if sample_weight is None else np.asarray(sample_weight, float)
    coef, intercept = local._get_coef()
    alpha = getattr(est, "alpha_", getattr(est, "alpha", None))
    l1, l2 = local._optimizer_spec(alpha).l1_l2()
    obj = LinearObjective(X, loss, l1=l1, l2=l2, sample_weight=sw)
    return obj.loss(obj.pack(np.asarray(coef, float).T, np.asarray(intercept, float)))


def _lr_as_skce(lr, like):
    """A skce estimator holding LogisticRegression's coefficients."""
    est = like.to_local()
    est.__dict__.update(est._coef_attrs(lr.coef_, lr.intercept_))
    return est


ALPHA = 1e-3
_FITS = {}


def _digits_fit(digits, chunks):
    """SoftmaxClassifier(alpha=ALPHA, tol=1e-10) on digits in row blocks of
    `chunks`, fitted once per chunking for the tests below."""
    if chunks not in _FITS:
        X, y = digits
        _FITS[chunks] = skd.SoftmaxClassifier(alpha=ALPHA, tol=1e-10, max_iter=1000).fit(
            da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=chunks))
    return _FITS[chunks]


@pytest.mark.slow
@pytest.mark.parametrize("chunks", [150, 900])
def test_softmax_reaches_logistic_regression_optimum(client, digits, chunks):
    X, y = digits
    est = _digits_fit(digits, chunks)
    lr = LogisticRegression(C=1.0 / (ALPHA * len(X)), tol=1e-12, max_iter=5000).fit(X, y)
    f_dask = _objective(est, X, y)
    f_lr = _objective(_lr_as_skce(lr, est), X, y)
    f_star = min(f_dask, f_lr)
    assert (f_dask - f_star) / f_star <= 1e-8
    assert est.score(X, y) == pytest.approx(lr.score(X, y), abs=1e-3)
    assert est.n_iter_ > 5 and est.n_rounds_ >= est.n_iter_


def test_result_independent_of_chunking(client, digits):
    X, y = digits
    fits = [_digits_fit(digits, c) for c in (150, 900)]
    f = [_objective(e, X, y) for e in fits]
    assert abs(f[0] - f[1]) <= 1e-10 * f[0]
    np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_binary_float32_sample_weight_and_dataframe(client, digits):
    X, y = digits
    yb = (y >= 5).astype(np.int64)
    X32 = X.astype(np.float32)
    sw = np.random.default_rng(0).integers(1, 4, len(X)).astype(float)
    pd = pytest.importorskip("pandas")
    Xdf = dd.from_pandas(pd.DataFrame(X32), npartitions=3)
    ydf = dd.from_pandas(pd.Series(yb), npartitions=3)
    swd = dd.from_pandas(pd.Series(sw), npartitions=3).to_dask_array(lengths=True)
    est = skd.SoftmaxClassifier(alpha=1e-3, tol=1e-8, max_iter=500).fit(Xdf, ydf, swd)
    assert est.coef_.dtype == np.float32 and est.coef_.shape == (1, X.shape[1])
    # weights 1..3 = repeated rows; LogisticRegression with the same weights as the oracle
    lr = LogisticRegression(C=1.0 / (1e-3 * sw.sum()), tol=1e-10, max_iter=5000).fit(
        X, yb, sample_weight=sw)
    f = _objective(est, X32.astype(float), yb, sw)
    f_lr = _objective(_lr_as_skce(lr, est), X, yb, sw)
    assert (f - f_lr) / f_lr <= 1e-5   # float32 products
    proba = est.predict_proba(Xdf)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), est.to_local().predict_proba(X32), rtol=1e-5,
                               atol=1e-7)   # float32 products of other block shapes


@pytest.mark.slow
def test_class_weight_balanced_matches_logistic_regression(client, digits):
    X, y = digits
    keep = (y != 3) | (np.arange(len(y)) % 4 == 0)   # make class 3 rare
    X, y = X[keep], y[keep]
    alpha = 1e-2
    est = skd.SoftmaxClassifier(alpha=alpha, class_weight="balanced", tol=1e-10,
                                max_iter=2000).fit(da.from_array(X, chunks=(300, -1)),
                                                   da.from_array(y, chunks=300))
    local = est.to_local()
    cw = local._class_weight_vector(local._encode(y))
    S = cw[local._encode(y)].sum()
    lr = LogisticRegression(C=1.0 / (alpha * S), class_weight="balanced", tol=1e-12,
                            max_iter=5000).fit(X, y)
    f = _objective(est, X, y)
    f_lr = _objective(_lr_as_skce(lr, est), X, y)
    assert (f - min(f, f_lr)) / f_lr <= 1e-8


@pytest.mark.slow
def test_linear_svm_matches_linear_svc(client, digits):
    X, y = digits
    est = skd.LinearSVM(C=0.1, fit_intercept=False, tol=1e-10, max_iter=2000).fit(
        da.from_array(X, chunks=(400, -1)), da.from_array(y, chunks=400))
    svc = LinearSVC(C=0.1, fit_intercept=False, tol=1e-10, max_iter=100000).fit(X, y)
    assert est.alpha_ == pytest.approx(1.0 / (0.1 * len(X)))
    local = est.to_local()
    ref = est.to_local()
    ref.coef_ = svc.coef_
    f, f_svc = _objective(local, X, y), _objective(ref, X, y)
    assert (f - min(f, f_svc)) / f_svc <= 1e-7
    with pytest.raises(ValueError, match="squared_hinge"):
        skd.LinearSVM(loss="hinge").fit(da.from_array(X, chunks=(400, -1)),
                                        da.from_array(y, chunks=400))


def test_regressor_matches_ridge_and_lazy_predict(client):
    X, y = make_regression(2000, 20, n_targets=2, noise=5.0, random_state=0)
    a = 3.0
    est = skd.LinearRegressor(alpha=a / len(X), tol=1e-12, max_iter=2000).fit(
        da.from_array(X, chunks=(333, -1)), da.from_array(y, chunks=(333, -1)))
    ridge = Ridge(alpha=a).fit(X, y)
    np.testing.assert_allclose(est.coef_, ridge.coef_, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(est.intercept_, ridge.intercept_, rtol=1e-7, atol=1e-7)
    pred = est.predict(da.from_array(X, chunks=(500, -1)))
    assert isinstance(pred, da.Array) and pred.shape == (2000, 2)
    np.testing.assert_allclose(pred.compute(), ridge.predict(X), rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_numpy_and_sparse_input_are_scattered(client, digits):
    X, y = digits
    dense = skd.SoftmaxClassifier(alpha=ALPHA, tol=1e-10, max_iter=1000).fit(X, y)
    csr = skd.SoftmaxClassifier(alpha=ALPHA, tol=1e-10, max_iter=1000).fit(sp.csr_matrix(X), y)
    f_ref = _objective(_digits_fit(digits, 150), X, y)
    for est in (dense, csr):
        assert abs(_objective(est, X, y) - f_ref) <= 1e-10 * f_ref
    assert isinstance(dense.predict(X), np.ndarray)


def test_to_local_is_the_plain_estimator(client, digits):
    X, y = digits
    est = _digits_fit(digits, 900)
    local = est.to_local()
    assert type(local) is skce.SoftmaxClassifier
    np.testing.assert_array_equal(local.predict(X), est.predict(X))
    lazy = est.predict(da.from_array(X, chunks=(500, -1)))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), local.predict(X))
    assert local.get_params()["solver"] == "lbfgs"


def test_accuracy_equals_the_in_memory_lbfgs_fit(client, digits):
    """The same objective, solver and options in memory: the same optimum and
    the same predictions (at most one row of 1797 may flip on a near-tie)."""
    X, y = digits
    est = _digits_fit(digits, 150)
    local = skce.SoftmaxClassifier(solver="lbfgs", alpha=ALPHA, tol=1e-10, max_iter=1000).fit(X, y)
    f_dask, f_local = _objective(est, X, y), _objective(local, X, y)
    assert abs(f_dask - f_local) <= 1e-10 * f_local
    assert np.sum(est.predict(X) != local.predict(X)) <= 1
    assert abs(est.score(X, y) - local.score(X, y)) <= 1 / len(y)


@pytest.mark.slow
def test_wide_problem_runs_skce_lbfgs_and_matches_the_in_memory_fit(client, monkeypatch):
    """10,010 parameters: skce's own L-BFGS (not scipy's L-BFGS-B) on the
    client, the in-memory fit's optimum and predictions, dense blocks or
    scattered CSR."""
    from skce._solver import _lbfgs
    seen = []
    own = _lbfgs.minimize_owlqn

    def spy(*args, **kwargs):
        seen.append(len(args[1]))
        return own(*args, **kwargs)
    monkeypatch.setattr(_lbfgs, "minimize_owlqn", spy)
    rng = np.random.default_rng(0)
    X = sp.random(1000, 1000, density=0.02, format="csr", random_state=1)
    y = np.argmax(X @ rng.normal(size=(1000, 10)) + rng.gumbel(size=(1000, 10)), axis=1)
    kw = dict(alpha=1e-3, tol=1e-10, max_iter=2000)
    local = skce.SoftmaxClassifier(solver="lbfgs", **kw).fit(X, y)
    fits = [skd.SoftmaxClassifier(**kw).fit(da.from_array(X.toarray(), chunks=(250, -1)),
                                            da.from_array(y, chunks=250)),
            skd.SoftmaxClassifier(**kw).fit(X, y)]   # CSR, scattered
    assert seen == [10_010] * 3
    f_local = _objective(local, X, y)
    for est in fits:
        assert abs(_objective(est, X, y) - f_local) <= 1e-10 * f_local
        assert np.sum(est.predict(X) != local.predict(X)) <= 1


@pytest.mark.slow
def test_text_like_fit_is_preconditioned_as_in_memory(client, monkeypatch):
    """Column scales spanning orders of magnitude: the client's L-BFGS gets the
    in-memory fit's diagonal preconditioning (column squares summed over the
    blocks) and follows its path: the same iterations, the same optimum."""
    from skce._solver import _lbfgs
    from _checks import text_like
    seen = []
    own = _lbfgs.minimize_owlqn

    def spy(*args, precondition=None, **kwargs):
        result = own(*args, precondition=precondition, **kwargs)
        seen.append((precondition, result.nit))
        return result
    monkeypatch.setattr(_lbfgs, "minimize_owlqn", spy)
    X, y = text_like(n=1200, d=2200, K=5)
    kw = dict(alpha=1.0 / X.shape[0], tol=1e-10, max_iter=5000)
    local = skce.SoftmaxClassifier(solver="lbfgs", **kw).fit(X, y)
    dist = skd.SoftmaxClassifier(**kw).fit(da.from_array(X, chunks=(400, -1)),
                                           da.from_array(y, chunks=400))
    (p_local, it_local), (p_dist, it_dist) = seen
    assert p_local is not None and p_dist is not None
    np.testing.assert_allclose(p_dist, p_local, rtol=1e-12)
    assert abs(it_dist - it_local) <= max(3, 0.05 * it_local), (it_dist, it_local)
    f_local = _objective(local, X, y)
    assert abs(_objective(dist, X, y) - f_local) <= 1e-10 * f_local


def test_a_fit_whose_line_search_finds_no_decrease_warns(client, digits):
    """As the in-memory fit: X scaled by 1e150 leaves no step that decreases
    the objective; the fit says so with a ConvergenceWarning."""
    from sklearn.exceptions import ConvergenceWarning
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="no step along its search direction"):
        skd.SoftmaxClassifier().fit(da.from_array(X * 1e150, chunks=(900, -1)),
                                    da.from_array(y, chunks=900))


def test_n_jobs_sets_the_kernel_threads_of_each_worker(client, digits):
    """dask sets OMP_NUM_THREADS=1 in its workers: n_jobs=None runs the kernels
    on one thread there, n_jobs=2 on two; the fit is bitwise the same (block
    sums in a fixed order)."""
    assert client.submit(_blocks.n_threads_here, None, pure=False).result() == 1
    assert client.submit(_blocks.n_threads_here, 2, pure=False).result() == min(2, os.cpu_count())
    X, y = digits
    Xd, yd = da.from_array(X, chunks=(900, -1)), da.from_array(y, chunks=900)
    one = _digits_fit(digits, 900)
    two = skd.SoftmaxClassifier(alpha=ALPHA, tol=1e-10, max_iter=1000, n_jobs=2).fit(Xd, yd)
    np.testing.assert_array_equal(two.coef_, one.coef_)
    np.testing.assert_array_equal(two.intercept_, one.intercept_)


def test_misaligned_block_is_aligned_once_without_a_warning(digits):
    """distributed's transport can deliver a block at an address that is not a
    multiple of 8: the worker aligns it once, without a warning the user could
    not act on, and its loss and gradient equal those of the aligned block."""
    import warnings

    X, y = digits
    X, y = np.ascontiguousarray(X[:200], dtype=np.float64), y[:200]
    Xm = np.frombuffer(bytearray(X.nbytes + 1), dtype=np.uint8)[1:].view(np.float64)
    Xm = Xm.reshape(X.shape)
    Xm[...] = X
    assert not Xm.flags.aligned
    template = skce.SoftmaxClassifier()
    template.classes_ = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        block = _blocks.make_block(template, Xm, y, None, None, np.float64, 1)
    assert block.X.flags.aligned and np.array_equal(block.X, X)
    reference = _blocks.make_block(template, X, y, None, None, np.float64, 1)
    theta = np.random.default_rng(0).normal(size=reference.objective.pack(
        np.zeros((X.shape[1], len(template.classes_))), np.zeros(len(template.classes_))).shape)
    f, g = _blocks.loss_gradient(block, theta)
    f_ref, g_ref = _blocks.loss_gradient(reference, theta)
    assert f == f_ref and np.array_equal(g, g_ref)


def test_bad_input_errors(client, digits):
    X, y = digits
    with pytest.raises(ValueError, match="at least 2 classes"):
        skd.SoftmaxClassifier().fit(da.from_array(X, chunks=(500, -1)),
                                    da.from_array(np.zeros(len(X), int), chunks=500))
    with pytest.raises(ValueError, match="rows"):
        skd.SoftmaxClassifier().fit(da.from_array(X, chunks=(500, -1)),
                                    da.from_array(y[:100], chunks=50))
    with pytest.raises(ValueError, match="solver"):
        skd.SoftmaxClassifier(solver="adam").fit(X, y)


def _kill_workers_at_round(client, monkeypatch, at_round, n_victims=1):
    """SIGKILL n_victims worker processes (their nannies restart them) when the
    client sends out the block tasks of round `at_round`."""
    real = client.map
    calls = {"n": 0, "killed": []}

    def map_(func, *args, **kwargs):
        if func is _blocks.loss_gradient:
            calls["n"] += 1
            if calls["n"] == at_round:
                pids = client.run(os.getpid)
                for addr in sorted(pids)[:n_victims]:
                    os.kill(pids[addr], signal.SIGKILL)
                    calls["killed"].append(addr)
        return real(func, *args, **kwargs)
    monkeypatch.setattr(client, "map", map_)
    return calls


@pytest.mark.slow
def test_worker_killed_mid_fit_recovers(killable_client, digits, monkeypatch):
    """Blocks of a dask array are recomputed from their graph on the
    surviving worker: the fit finishes with the same optimum."""
    X, y = digits
    reference = _digits_fit(digits, 150)
    calls = _kill_workers_at_round(killable_client, monkeypatch, at_round=3)
    est = skd.SoftmaxClassifier(alpha=ALPHA, tol=1e-10, max_iter=1000).fit(
        da.from_array(X, chunks=(150, -1)), da.from_array(y, chunks=150))
    monkeypatch.undo()
    killable_client.wait_for_workers(2, timeout=60)
    assert calls["n"] > 3 and len(calls["killed"]) == 1
    f, f_ref = _objective(est, X, y), _objective(reference, X, y)
    assert abs(f - f_ref) <= 1e-10 * f_ref


@pytest.mark.slow
def test_worker_killed_with_scattered_data_fails_cleanly(killable_client, digits,
                                                         monkeypatch):
    """Scattered in-memory blocks have no graph to recompute them from: with
    every worker killed the fit raises and the estimator stays as it was
    (here: unfitted)."""
    X, y = digits
    est = skd.SoftmaxClassifier(alpha=1e-3, tol=1e-10, max_iter=1000)
    _kill_workers_at_round(killable_client, monkeypatch, at_round=3, n_victims=2)
    with pytest.raises(RuntimeError, match="lost a worker"):
        est.fit(X, y)
    monkeypatch.undo()
    killable_client.wait_for_workers(2, timeout=60)
    assert not hasattr(est, "coef_") and not hasattr(est, "classes_")


def test_plain_estimators_under_dask_ml_wrappers(client, digits):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = digits
    rows = (600, 0, 597, 600)   # an empty block too
    Xd = da.from_array(X, chunks=(rows, (X.shape[1],)))
    yd = da.from_array(y, chunks=(rows,))
    inc = wrappers.Incremental(skce.SoftmaxClassifier(random_state=0), scoring="accuracy")
    inc.fit(Xd, yd, classes=np.unique(y))
    assert inc.score(Xd, yd) > 0.85
    ppf = wrappers.ParallelPostFit(skce.SoftmaxClassifier(random_state=0).fit(X, y))
    pred = ppf.predict(Xd)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), ppf.estimator.predict(X))


def test_grid_search_on_the_dask_joblib_backend(client, digits):
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = digits
    grid = GridSearchCV(skce.SoftmaxClassifier(max_iter=10, random_state=0),
                        {"alpha": [1e-4, 1e-2]}, cv=2)
    with joblib.parallel_backend("dask"):
        grid.fit(X, y)
    assert grid.best_score_ > 0.85


@pytest.mark.slow
def test_class_weight_dict_matches_the_in_memory_fit(client, digits):
    X, y = digits
    params = dict(alpha=1e-2, class_weight={0: 3.0, 5: 0.5}, tol=1e-10, max_iter=2000)
    est = skd.SoftmaxClassifier(**params).fit(da.from_array(X, chunks=(400, -1)),
                                              da.from_array(y, chunks=400))
    local = skce.SoftmaxClassifier(solver="lbfgs", **params).fit(X, y)
    np.testing.assert_allclose(est.coef_, local.coef_, atol=1e-6)
    with pytest.raises(ValueError, match="finite, non-negative"):
        skd.SoftmaxClassifier(class_weight={0: -1.0}).fit(X, y)


def test_l1_fit_equals_the_in_memory_fit(client, digits):
    """penalty="l1" (OWL-QN over the blocks' sums): the in-memory fit's
    optimum and zero pattern."""
    X, y = digits
    params = dict(penalty="l1", alpha=1e-2, tol=1e-10, max_iter=2000)
    est = skd.SoftmaxClassifier(**params).fit(da.from_array(X, chunks=(400, -1)),
                                              da.from_array(y, chunks=400))
    local = skce.SoftmaxClassifier(solver="lbfgs", **params).fit(X, y)
    f, f_local = _objective(est, X, y), _objective(local, X, y)
    assert abs(f - f_local) <= 1e-10 * f_local
    assert est.loss_curve_[-1] == pytest.approx(f_local, rel=1e-10)   # with the L1 term
    np.testing.assert_allclose(est.coef_, local.coef_, atol=1e-6)
    assert 0.1 < np.mean(est.coef_ == 0) < 0.9
    np.testing.assert_array_equal(est.coef_ == 0, local.coef_ == 0)
