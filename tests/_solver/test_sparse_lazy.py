"""Lazy updates of CSR training steps (skce/_solver/_epoch.pyx, src/solver/lazy*).

A CSR step updates only the weight rows its batch touches.  Plain SGD
applies the deferred steps of the other rows exactly, so a lazy fit must
equal the eager one (every row every step, the dense path's arithmetic) to
rounding; the other optimizers follow torch.optim.SparseAdam's semantics
(an absent row and its state do not change), checked against SparseAdam
itself, with the skipped steps' penalty applied in the row's next step.
These tests force lazy updates (their small problems touch most columns
per batch, where a fit alone would choose eager ones: see
test_the_fit_chooses_lazy_updates_by_the_columns_a_batch_touches).
"""
import numpy as np
import pytest
import scipy.sparse as sp

from skce import LinearRegressor, LinearSVM, SoftmaxClassifier
from skce._loss import LOSSES
from skce._solver import LossSpec, OptimizerSpec, SolverState, _epoch
from skce._solver._train import LAZY_TOUCHED_FRACTION, lazy_pays
from skce.exceptions import TrainingDiverged


@pytest.fixture(autouse=True)
def forced_lazy():
    previous = _epoch._set_lazy_csr(True)
    yield
    _epoch._set_lazy_csr(previous)


def _sparse_problem(n=400, d=250, K=4, density=0.02, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr")
    X.data = rng.standard_normal(X.nnz)
    return X, rng.integers(0, K, n), rng


@pytest.fixture
def eager():
    """Run the block with eager CSR updates (every row, every step)."""
    class Switch:
        def fit(self, est, *args, **kwargs):
            previous = _epoch._set_lazy_csr(False)
            try:
                return est.fit(*args, **kwargs)
            finally:
                _epoch._set_lazy_csr(previous)
    return Switch()


SGD_CASES = {
    "l2": dict(alpha=1e-2),
    "l2_avg": dict(alpha=1e-2, average=True),
    "l1_avg": dict(alpha=1e-2, penalty="l1", average=True),
    "elasticnet_invscaling_avg": dict(alpha=3e-3, penalty="elasticnet", average=True,
                                      learning_rate="invscaling", eta0=0.5),
    "elasticnet_cosine": dict(alpha=1e-2, penalty="elasticnet", learning_rate="cosine"),
    "no_penalty_avg": dict(penalty=None, average=True),
    "no_intercept": dict(alpha=1e-2, fit_intercept=False, average=True),
    # lr * alpha = 0.9: the penalty history restarts every few steps
    "restarts_avg": dict(alpha=0.9, eta0=1.0, batch_size=4, penalty="elasticnet",
                         l1_ratio=0.01, average=True),
    # without L1: W = S V, rows brought back and S = 1 again when S < 1e-4
    "restarts_l2_avg": dict(alpha=0.9, eta0=1.0, batch_size=4, average=True),
    "restarts_l2": dict(alpha=0.9, eta0=1.0, batch_size=4),
}


@pytest.mark.parametrize("case", list(SGD_CASES), ids=list(SGD_CASES))
def test_lazy_sgd_equals_eager(case, eager):
    X, y, _ = _sparse_problem()
    params = {"solver": "sgd", "momentum": 0.0, "random_state": 0, "max_iter": 4, "tol": None,
              "batch_size": 16, "average": False, **SGD_CASES[case]}
    lazy = SoftmaxClassifier(**params).fit(X, y)
    ref = eager.fit(SoftmaxClassifier(**params), X, y)
    dense = SoftmaxClassifier(**params).fit(X.toarray(), y)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(lazy.coef_, ref.coef_, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(lazy.intercept_, ref.intercept_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lazy.coef_, dense.coef_, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(lazy.loss_curve_, ref.loss_curve_, rtol=1e-12)
    assert np.array_equal(lazy.coef_ == 0, ref.coef_ == 0)   # L1's exact zeros


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_lazy_sgd_dtypes_and_estimators(dtype, atol, index_dtype, eager):
    X, y, rng = _sparse_problem()
    X = sp.csr_matrix((X.data.astype(dtype), X.indices.astype(index_dtype),
                       X.indptr.astype(index_dtype)), shape=X.shape)
    sw = rng.uniform(0.5, 2.0, X.shape[0])
    yr = rng.standard_normal(X.shape[0])
    common = dict(solver="sgd", momentum=0.0, random_state=0, max_iter=3, tol=None,
                  batch_size=16, alpha=1e-2, penalty="elasticnet", average=True)
    svm = {k: v for k, v in common.items() if k != "alpha"}   # LinearSVM has C
    for make, target in [(lambda: SoftmaxClassifier(**common), y),
                         (lambda: LinearSVM(C=10.0, **svm), y),
                         (lambda: LinearRegressor(**common), yr)]:
        lazy_coef = make().fit(X, target, sample_weight=sw).coef_
        ref = eager.fit(make(), X, target, sample_weight=sw)
        assert lazy_coef.dtype == dtype
        scale = np.abs(ref.coef_).max()
        np.testing.assert_allclose(lazy_coef, ref.coef_, rtol=0, atol=atol * scale)


def test_lazy_adam_matches_torch_sparse_adam():
    """Without a penalty, lazy Adam on CSR is torch.optim.SparseAdam on the
    weights (their gradient a sparse tensor of the batch's feature rows) and
    torch.optim.Adam on the intercept, each with its own placing of epsilon
    (SparseAdam: sqrt(v) + eps, the step scaled by sqrt(bc2); Adam:
    sqrt(v) / sqrt(bc2) + eps): an epsilon large enough to tell them apart."""
    torch = pytest.importorskip("torch")
    X, y, rng = _sparse_problem(n=96, d=60, K=3, density=0.05)
    n, d = X.shape
    K, B, lr, eps = 3, 8, 0.05, 1e-3
    W0 = rng.standard_normal((d, K)) * 0.1
    b0 = rng.standard_normal(K) * 0.1
    state = SolverState.new(d, K, np.float64, lr, coef=W0.T, intercept=b0)
    opt = OptimizerSpec(solver="adam", eta0=lr, penalty=None, epsilon=eps)
    loss = LossSpec.of(LOSSES["cross_entropy"], K, y=y.astype(np.int64))
    settings = _epoch.EpochSettings(loss, opt, state)
    order = np.arange(n, dtype=np.int64)
    for _ in range(2):   # two epochs: moments carried across the pass boundary
        _epoch.epoch_csr(settings, X.data, X.indices, X.indptr, d, order, B)

    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    sparse_adam = torch.optim.SparseAdam([W], lr=lr, eps=eps)
    adam = torch.optim.Adam([b], lr=lr, eps=eps)
    Xd, yt = torch.tensor(X.toarray()), torch.tensor(y)
    for _ in range(2):
        for start in range(0, n, B):
            rows = slice(start, start + B)
            out = torch.nn.functional.cross_entropy(Xd[rows] @ W + b, yt[rows])
            sparse_adam.zero_grad()
            adam.zero_grad()
            out.backward()
            touched = torch.tensor(np.unique(X[rows].indices), dtype=torch.int64)
            W.grad = torch.sparse_coo_tensor(touched[None], W.grad[touched], (d, K))
            sparse_adam.step()
            adam.step()
    P = d * K
    np.testing.assert_allclose(state.theta[:P].reshape(d, K), W.detach().numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(state.theta[P:], b.detach().numpy(), rtol=1e-12, atol=1e-15)
    # rows no batch touched kept their starting values, bit for bit
    never = np.setdiff1d(np.arange(d), X.indices)
    assert len(never) and np.array_equal(state.theta[:P].reshape(d, K)[never], W0[never])


@pytest.mark.parametrize("opt", [dict(solver="adam", eta0=0.05, alpha=1e-2),
                                 dict(solver="sgd", eta0=0.2, momentum=0.0, alpha=1e-2,
                                      penalty="l1")], ids=["adam", "sgd_l1"])
def test_lazy_pass_after_an_eager_one(opt):
    """The lazy steps read the batch's gradient from compact rows that must
    start at zero (each step zeroes the rows it read); an eager CSR pass
    leaves a whole dW in that buffer.  Eager CSR then lazy equals eager dense
    (other buffers) then lazy, to rounding."""
    X, y, rng = _sparse_problem(n=120, d=90, K=3, density=0.05, seed=3)
    n, d = X.shape
    spec, K, B = OptimizerSpec(**opt), 3, 8
    loss = LossSpec.of(LOSSES["cross_entropy"], K, y=y.astype(np.int64))
    W0, b0 = rng.standard_normal((d, K)) * 0.1, rng.standard_normal(K) * 0.1
    order = rng.permutation(n).astype(np.int64)
    states = [SolverState.new(d, K, np.float64, spec.eta0, coef=W0.T, intercept=b0)
              for _ in range(2)]
    reused, fresh = [_epoch.EpochSettings(loss, spec, st) for st in states]
    _epoch._set_lazy_csr(False)
    _epoch.epoch_csr(reused, X.data, X.indices, X.indptr, d, order, B)
    _epoch.epoch_dense(fresh, X.toarray(), order, B)
    _epoch._set_lazy_csr(True)   # the fixture restores the setting
    for settings in (reused, fresh):
        _epoch.epoch_csr(settings, X.data, X.indices, X.indptr, d, order, B)
    np.testing.assert_allclose(states[0].theta, states[1].theta, rtol=0, atol=1e-12)


@pytest.mark.parametrize("opt", [
    dict(solver="adam", eta0=0.05, alpha=1e-2),
    dict(solver="sgd", eta0=0.1, momentum=0.9, alpha=1e-2),
    dict(solver="sgd", eta0=0.5, momentum=0.0, alpha=0.3),            # W = S V, restarts
    dict(solver="sgd", eta0=0.5, momentum=0.0, alpha=0.3, penalty="elasticnet")],
    ids=["adam", "momentum", "sgd_scaled", "sgd_l1_history"])
def test_lazy_average_is_the_mean_of_the_steps(opt):
    """The averaged model of a lazy pass is the mean of theta after each of
    its steps, however it is kept (running mean with catch-up; A + QS W with
    the variants and with W = S V): the reference takes the same steps one
    pass of one batch each and averages their thetas itself."""
    X, y, rng = _sparse_problem(n=160, d=120, K=3, density=0.03, seed=5)
    n, d = X.shape
    K, B = 3, 8
    W0, b0 = rng.standard_normal((d, K)) * 0.1, rng.standard_normal(K) * 0.1
    spec = OptimizerSpec(**opt)
    loss = LossSpec.of(LOSSES["cross_entropy"], K, y=y.astype(np.int64))
    order = rng.permutation(n).astype(np.int64)
    state = SolverState.new(d, K, np.float64, spec.eta0, coef=W0.T, intercept=b0,
                            average=True)
    _epoch.epoch_csr(_epoch.EpochSettings(loss, spec, state), X.data, X.indices, X.indptr,
                     d, order, B)
    ref = SolverState.new(d, K, np.float64, spec.eta0, coef=W0.T, intercept=b0)
    settings = _epoch.EpochSettings(loss, spec, ref)
    thetas = []
    for start in range(0, n, B):
        _epoch.epoch_csr(settings, X.data, X.indices, X.indptr, d, order[start:start + B], B)
        thetas.append(ref.theta.copy())
    np.testing.assert_allclose(state.theta, ref.theta, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(state.average, np.mean(thetas, axis=0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver, extra", [
    ("adam", {}), ("sgd", {"momentum": 0.9}), ("rmsprop", {}),
    ("adagrad", {"learning_rate": "constant"})])   # Adagrad decays its steps itself
def test_lazy_variant_keeps_the_penalty(solver, extra):
    """The skipped steps' L2 is applied when a row is next touched: rare
    features (in few batches) are shrunk as much as in the dense fit, so the
    lazy fit reaches the same (dense-path) objective level.  Dropping the
    skipped steps' penalty would leave rare features' weights too large."""
    X, y, _ = _sparse_problem(n=600, d=300, K=3, density=0.01, seed=3)
    params = dict(solver=solver, random_state=0, max_iter=60, tol=None, batch_size=16,
                  alpha=0.05, average=True, learning_rate="invscaling", power_t=0.5,
                  eta0=0.05 if solver != "sgd" else 0.2)
    params.update(extra)
    exact = SoftmaxClassifier(solver="lbfgs", alpha=0.05, tol=1e-10, max_iter=500).fit(X, y)
    lazy = SoftmaxClassifier(**params).fit(X, y)
    dense = SoftmaxClassifier(**params).fit(X.toarray(), y)
    f_star = exact.loss_curve_[-1]
    sub_lazy = (lazy.loss_curve_[-1] - f_star) / f_star
    sub_dense = (dense.loss_curve_[-1] - f_star) / f_star
    assert sub_lazy < max(3 * sub_dense, 1e-3), (sub_lazy, sub_dense)
    norm = np.linalg.norm
    assert abs(norm(lazy.coef_) - norm(exact.coef_)) < 0.05 * norm(exact.coef_)


def test_lazy_state_after_divergence_is_clean():
    """A fit stopped by a non-finite loss mid-epoch leaves no lazy bookkeeping
    behind: the estimator is unchanged and the next fit is a clean one."""
    X, y, _ = _sparse_problem()
    X = X * 1e4
    ok = dict(solver="sgd", momentum=0.0, random_state=0, max_iter=3, tol=None,
              batch_size=16, eta0=1e-6, alpha=1e-3)
    est = SoftmaxClassifier(**ok).fit(X, y)
    before = est.coef_.copy()
    est.set_params(eta0=1e6, alpha=1e-9, warm_start=True)
    with pytest.raises(TrainingDiverged):
        est.fit(X, y)
    np.testing.assert_array_equal(est.coef_, before)
    est.set_params(**ok, warm_start=False)
    np.testing.assert_array_equal(est.fit(X, y).coef_, SoftmaxClassifier(**ok).fit(X, y).coef_)


def test_sgd_learning_rate_times_alpha_must_shrink():
    X, y, _ = _sparse_problem()
    with pytest.raises(ValueError, match="flip the weights' signs"):
        SoftmaxClassifier(solver="sgd", momentum=0.0, eta0=10.0, alpha=0.2).fit(X, y)


def _random_csr(n, d, nnz_per_row, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), nnz_per_row)
    X = sp.csr_matrix((rng.standard_normal(n * nnz_per_row),
                       (rows, rng.integers(0, d, n * nnz_per_row))), shape=(n, d))
    X.sum_duplicates()
    return X, rng.integers(0, 3, n)


def test_lazy_pays_measures_the_touched_fraction():
    # a batch of 64 rows x 4 non-zeros touches <= 256 columns
    assert not lazy_pays(_random_csr(2000, 200, 4)[0], 64)      # ~ 72 % of 200
    assert lazy_pays(_random_csr(2000, 20000, 4)[0], 64)        # ~ 1.3 % of 20,000
    X, _ = _random_csr(2000, 1000, 4)                             # ~ 23 % of 1000
    assert lazy_pays(X, 64) and not lazy_pays(X, 256)             # ~ 64 % at batch 256
    assert not lazy_pays(sp.csr_matrix((0, 5)), 64)
    assert 0 < LAZY_TOUCHED_FRACTION < 1


@pytest.mark.parametrize("d, lazy, kw", [
    (200, False, dict(solver="adam")), (20000, True, dict(solver="adam")),
    # W = S V: lazy wherever a batch's columns are
    (200, True, dict(solver="sgd", momentum=0.0)),
    (200, False, dict(solver="sgd", momentum=0.0, penalty="elasticnet"))])
def test_the_fit_chooses_lazy_updates_by_the_columns_a_batch_touches(d, lazy, kw):
    """Left to choose (_set_lazy_csr(None)), a fit is bitwise the forced
    eager fit where a batch touches most columns and the forced lazy one
    where it touches few (Adam: the two differ, SparseAdam semantics;
    SGD: they differ in rounding); plain SGD without L1 is always lazy."""
    X, y = _random_csr(2000, d, 4)
    kw = dict(batch_size=64, max_iter=3, tol=None, random_state=0, **kw)
    fits = {}
    for mode in (None, True, False):
        _epoch._set_lazy_csr(mode)
        fits[mode] = SoftmaxClassifier(**kw).fit(X, y).coef_
    assert not np.array_equal(fits[True], fits[False])
    np.testing.assert_array_equal(fits[None], fits[lazy])
