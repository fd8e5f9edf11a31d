"""skce._solver._objective: the one objective (loss + penalty + reductions).

Oracles: PyTorch autograd of the objective written out in torch (its own
loss functions where they exist), central finite differences, and the
optimality of the intercept-only start (zero gradient)."""
import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from skce._loss import LOSSES
from skce._solver import LossSpec, OptimizerSpec, penalty_value
from skce._solver._objective import LinearObjective, intercept_only

torch = pytest.importorskip("torch")
F = torch.nn.functional

N, D = 53, 7

# name -> (registry row, n_outputs, LossSpec extras, torch per-row loss(Z, y, Y))
CASES = {
    "cross_entropy": ("cross_entropy", 4, {}, None),
    "cross_entropy_smoothed": ("cross_entropy", 4, {"label_smoothing": 0.2}, None),
    "binary_cross_entropy": ("binary_cross_entropy", 1, {}, None),
    "squared_error": ("squared_error", 3, {}, None),
    "huber": ("huber", 2, {"delta": 0.7}, None),
    "hinge": ("hinge", 3, {"margin": 1.0}, None),
    "squared_hinge": ("squared_hinge", 3, {"margin": 1.5, "squared": True}, None),
    "multi_margin": ("multi_margin", 4, {"crammer_singer": True}, None),
    "squared_multi_margin": ("squared_multi_margin", 4,
                             {"crammer_singer": True, "squared": True, "margin": 0.5}, None),
}
SMOOTH = [c for c in CASES if LOSSES[CASES[c][0]].smooth]


def _problem(case, dtype, rng):
    name, K, extra, _ = CASES[case]
    info = LOSSES[name]
    y = rng.integers(0, K, N)
    if info.target == "index":
        return LossSpec.of(info, K, y=y.astype(np.int64), **extra)
    if name == "binary_cross_entropy":
        Y = rng.random((N, 1))   # probability targets exercise the general formula
    elif "hinge" in name:
        Y = np.where(rng.random((N, K)) < 0.4, 1.0, -1.0)
    else:
        Y = rng.normal(size=(N, K)) * 2
    return LossSpec.of(info, K, Y=np.ascontiguousarray(Y, dtype=dtype), **extra)


def _torch_row_loss(case, loss, Z):
    """Per-row loss, written out in torch (torch's own functions where they exist)."""
    name = CASES[case][0]
    if name == "cross_entropy":
        return F.cross_entropy(Z, torch.as_tensor(loss.y), reduction="none",
                               label_smoothing=loss.label_smoothing)
    Y = None if loss.Y is None else torch.as_tensor(loss.Y, dtype=torch.float64)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(Z, Y, reduction="none").sum(1)
    if name == "squared_error":
        return F.mse_loss(Z, Y, reduction="none").sum(1)   # times LossSpec.scale = 1/2
    if name == "huber":
        return F.huber_loss(Z, Y, reduction="none", delta=loss.delta).sum(1)
    if name in ("hinge", "squared_hinge"):
        h = torch.clamp(loss.margin - Y * Z, min=0)
        return (h ** 2 if loss.squared else h).sum(1)
    # Crammer-Singer: max(0, margin + max_{j != y} z_j - z_y) (squared)
    t = torch.as_tensor(loss.y)
    zy = Z.gather(1, t[:, None])[:, 0]
    others = Z.masked_fill(F.one_hot(t, Z.shape[1]).bool(), -torch.inf)
    h = torch.clamp(loss.margin + others.max(1).values - zy, min=0)
    return h ** 2 if loss.squared else h


def _torch_objective(case, loss, X, theta, sw, l1, l2, fit_intercept):
    """(F, grad) by autograd, in float64, from the module doc's formula."""
    Xt = torch.as_tensor(X.toarray() if sp.issparse(X) else np.asarray(X), dtype=torch.float64)
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    K = loss.n_outputs
    W = th[:D * K].reshape(D, K)
    Z = Xt @ W + (th[D * K:] if fit_intercept else 0)
    rows = _torch_row_loss(case, loss, Z) * loss.scale
    s = torch.ones(N, dtype=torch.float64) if sw is None else torch.as_tensor(sw)
    value = (s * rows).sum() / s.sum() + l2 / 2 * (W ** 2).sum() + l1 * W.abs().sum()
    value.backward()
    return float(value.detach()), th.grad.numpy()


def _X(layout, dtype, rng):
    X = rng.normal(size=(N, D))
    X[rng.random((N, D)) < 0.3] = 0.0
    X = X.astype(dtype)
    if layout == "csr":
        return sp.csr_matrix(X)
    return np.asfortranarray(X) if layout == "F" else np.ascontiguousarray(X)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("layout, dtype, weighted", [
    ("C", np.float64, False), ("F", np.float64, True), ("csr", np.float64, True),
    ("C", np.float32, True), ("csr", np.float32, False)])
def test_objective_and_gradient_match_torch(case, layout, dtype, weighted):
    rng = np.random.default_rng(abs(hash((case, layout, weighted))) % 2**32)
    X = _X(layout, dtype, rng)
    loss = _problem(case, dtype, rng)
    sw = rng.random(N) * 2 if weighted else None
    fit_intercept = layout != "F"
    l1, l2 = (0.0, 0.3) if case in SMOOTH else (0.05, 0.1)
    obj = LinearObjective(X, loss, l1=l1, l2=l2, sample_weight=sw,
                          fit_intercept=fit_intercept, n_threads=2, chunk_rows=16)
    theta = rng.normal(size=obj.n_params) * 0.5
    value, grad = obj.loss_gradient(theta)
    ref_value, ref_grad = _torch_objective(case, loss, X, theta, sw, l1, l2, fit_intercept)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    assert value == pytest.approx(ref_value, rel=rtol * 10)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol * 10, atol=rtol * 10)
    assert obj.loss(theta) == pytest.approx(value, rel=1e-15)
    assert grad.dtype == np.float64 and grad.shape == theta.shape


@pytest.mark.parametrize("case", SMOOTH)
def test_gradient_matches_finite_differences(case):
    rng = np.random.default_rng(1)
    X = _X("C", np.float64, rng)
    loss = _problem(case, np.float64, rng)
    obj = LinearObjective(X, loss, l2=0.1, sample_weight=rng.random(N))
    theta = rng.normal(size=obj.n_params) * 0.3
    grad = obj.gradient(theta)
    h = 1e-6
    fd = np.array([(obj.loss(theta + h * e) - obj.loss(theta - h * e)) / (2 * h)
                   for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def _many_rows_loss(case, n, dtype, rng):
    """The LossSpec of `case` with n random targets (class indices, +-1
    for the hinge losses, probabilities for BCE, normal otherwise)."""
    name, K, extra, _ = CASES[case]
    info = LOSSES[name]
    if info.target == "index":
        return LossSpec.of(info, K, y=rng.integers(0, K, n).astype(np.int64), **extra)
    Y = np.where(rng.random((n, K)) < 0.4, 1.0, -1.0) if "hinge" in name else \
        rng.random((n, K)) if name == "binary_cross_entropy" else rng.normal(size=(n, K))
    return LossSpec.of(info, K, Y=np.ascontiguousarray(Y, dtype=dtype), **extra)


def _torch_weighted_l2(case, loss, X, theta, sw, l2):
    """(F, grad) by torch autograd in float64: weighted mean row loss plus
    l2 / 2 ||W||^2, X dense or CSR (densified)."""
    Xt = torch.as_tensor(X.toarray() if sp.issparse(X) else X, dtype=torch.float64)
    d, K = X.shape[1], loss.n_outputs
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    Z = Xt @ th[:d * K].reshape(d, K) + th[d * K:]
    s = torch.as_tensor(sw)
    value = (s * _torch_row_loss(case, loss, Z) * loss.scale).sum() / s.sum() \
        + l2 / 2 * (th[:d * K] ** 2).sum()
    value.backward()
    return float(value.detach()), th.grad.numpy()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_k_pass_matches_torch_over_many_blocks(case, dtype):
    """Dense X with few outputs takes the fused one-pass kernels (blocks of
    256 rows, 8 per round): 2,600 rows cover several rounds and a partial
    block; the gradient, the row gradients and the bits for 1 or 2 threads."""
    rng = np.random.default_rng(abs(hash((case, "small_k"))) % 2**32)
    n = 2600
    K = CASES[case][1]
    X = rng.normal(size=(n, D)).astype(dtype)
    loss = _many_rows_loss(case, n, dtype, rng)
    sw = rng.random(n) * 2
    objs = [LinearObjective(X, loss, l2=0.3, sample_weight=sw, n_threads=t) for t in (1, 2)]
    assert objs[0]._small_k
    theta = rng.normal(size=objs[0].n_params) * 0.5
    (f1, g1), (f2, g2) = (o.loss_gradient(theta) for o in objs)
    assert f1 == f2 and np.array_equal(g1, g2)   # threads do not change the bits

    value, grad = _torch_weighted_l2(case, loss, X, theta, sw, l2=0.3)
    rtol = 1e-11 if dtype == np.float64 else 1e-5
    assert f1 == pytest.approx(value, rel=rtol)
    np.testing.assert_allclose(g1, grad, rtol=rtol, atol=rtol)

    rows = np.empty((n, K), dtype=dtype)
    objs[0].loss_gradient_rows(theta, rows)
    blas = LinearObjective(X, loss, l2=0.3, sample_weight=sw)
    blas._small_k = False   # the chunked BLAS path, as for many outputs
    ref_rows = np.empty_like(rows)
    blas.loss_gradient_rows(theta, ref_rows)
    np.testing.assert_allclose(rows, ref_rows, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("K", [13, 30, 64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_k_pass_with_several_column_groups(K, dtype):
    """Beyond 3 SIMD vectors of outputs the kernels loop over column groups
    (and the padding of K): the same objective as the BLAS path."""
    rng = np.random.default_rng(K)
    X = rng.normal(size=(700, 11)).astype(dtype)
    loss = LossSpec.of(LOSSES["cross_entropy"], K, y=rng.integers(0, K, 700).astype(np.int64))
    fused = LinearObjective(X, loss, l2=0.1, n_threads=2)
    blas = LinearObjective(X, loss, l2=0.1)
    blas._small_k = False
    assert fused._small_k
    theta = rng.normal(size=fused.n_params) * 0.3
    (f1, g1), (f2, g2) = fused.loss_gradient(theta), blas.loss_gradient(theta)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert f1 == pytest.approx(f2, rel=rtol)
    np.testing.assert_allclose(g1, g2, rtol=rtol * 10, atol=rtol)


def test_small_k_pass_is_chosen_for_row_major_few_outputs():
    rng = np.random.default_rng(3)
    loss = _problem("cross_entropy", np.float64, rng)
    X = rng.normal(size=(N, D))
    assert LinearObjective(X, loss)._small_k
    assert LinearObjective(X[:, ::2], loss)._small_k is False   # column stride 2
    assert LinearObjective(np.asfortranarray(X), loss)._small_k is False
    theta = rng.normal(size=LinearObjective(X, loss).n_params)
    # rows at a stride (X[::2]) are read in place by the pass; a reversed X
    # is copied first (the kernels take positive strides): both give the
    # bits of their contiguous copies
    for view, rows in ((X[::2], slice(None, None, 2)), (X[::-1], slice(None, None, -1))):
        spec = LossSpec.of(LOSSES["cross_entropy"], loss.n_outputs, y=loss.y[rows])
        obj = LinearObjective(view, spec)
        assert obj._small_k
        f, g = obj.loss_gradient(theta)
        f0, g0 = LinearObjective(np.ascontiguousarray(view), spec).loss_gradient(theta)
        assert f == f0
        np.testing.assert_array_equal(g, g0)
    for K, chosen in ((64, True), (65, False)):
        spec = LossSpec.of(LOSSES["cross_entropy"], K, y=rng.integers(0, K, N))
        assert LinearObjective(X, spec)._small_k is chosen
    # its 8 shares of X^T G would take over 32 MB: BLAS
    wide = LossSpec.of(LOSSES["cross_entropy"], 10, y=rng.integers(0, 10, 2))
    assert LinearObjective(np.ones((2, 60_000)), wide)._small_k is False


def _sparse_rows(rng, n, d, dtype, index_dtype):
    """CSR with ~6 non-zeros a row, some rows empty, unsorted indices and a
    repeated (summed) entry."""
    X = sp.random(n, d, density=6 / d, format="csr", random_state=rng, dtype=np.float64)
    for r in range(0, n, 97):
        X.data[X.indptr[r]:X.indptr[r + 1]] = 0.0
    X.eliminate_zeros()
    for r in range(0, n, 5):   # reverse each fifth row's indices
        a, b = X.indptr[r], X.indptr[r + 1]
        X.indices[a:b], X.data[a:b] = X.indices[a:b][::-1].copy(), X.data[a:b][::-1].copy()
    X.has_sorted_indices = False
    data = np.append(X.data, 0.5).astype(dtype)
    indices = np.append(X.indices, X.indices[X.indptr[3]] if X.indptr[4] > X.indptr[3] else 0)
    indptr = X.indptr.copy()
    indptr[4:] += 1
    order = np.r_[np.arange(indptr[4] - 1), len(data) - 1, np.arange(indptr[4] - 1, len(data) - 1)]
    out = sp.csr_matrix((data[order], indices[order], indptr), shape=(n, d))
    # (set after construction: scipy narrows int64 indices that fit int32)
    out.indices, out.indptr = out.indices.astype(index_dtype), out.indptr.astype(index_dtype)
    return out


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype, index_dtype", [(np.float64, np.int32), (np.float32, np.int64)])
def test_csr_pass_matches_torch_over_many_blocks(case, dtype, index_dtype):
    """CSR X takes the fused one-pass kernels (4 row ranges, blocks of 256
    rows): 2,600 rows with empty rows, unsorted indices and a repeated entry;
    the objective and gradient against torch on the dense X, the bits for 1
    or 2 threads, and the row gradients against scipy's products."""
    rng = np.random.default_rng(abs(hash((case, "csr_pass"))) % 2**32)
    n, d = 2600, 40
    K = CASES[case][1]
    X = _sparse_rows(rng, n, d, dtype, index_dtype)
    loss = _many_rows_loss(case, n, dtype, rng)
    sw = rng.random(n) * 2
    objs = [LinearObjective(X, loss, l2=0.3, sample_weight=sw, n_threads=t) for t in (1, 2)]
    assert objs[0]._csr_pass and objs[0]._indices.dtype == index_dtype
    theta = rng.normal(size=objs[0].n_params) * 0.5
    (f1, g1), (f2, g2) = (o.loss_gradient(theta) for o in objs)
    assert f1 == f2 and np.array_equal(g1, g2)   # threads do not change the bits

    value, grad = _torch_weighted_l2(case, loss, X, theta, sw, l2=0.3)
    rtol = 1e-11 if dtype == np.float64 else 1e-5
    assert f1 == pytest.approx(value, rel=rtol)
    np.testing.assert_allclose(g1, grad, rtol=rtol, atol=rtol)

    rows = np.empty((n, K), dtype=dtype)
    objs[1].loss_gradient_rows(theta, rows)
    scipy_path = LinearObjective(X, loss, l2=0.3, sample_weight=sw)
    scipy_path._csr_pass = False   # scipy's chunked products, as for large d K
    ref_rows = np.empty_like(rows)
    scipy_path.loss_gradient_rows(theta, ref_rows)
    np.testing.assert_allclose(rows, ref_rows, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("K", [1, 5, 13, 40, 70])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_pass_with_padded_and_grouped_outputs(K, dtype):
    """The CSR kernels take K padded to whole vectors, up to 8 vectors a
    sweep (more: several sweeps): the objective of scipy's products, with
    and without intercept, and loss alone equal to the loss of loss_gradient."""
    rng = np.random.default_rng(K)
    X = _sparse_rows(rng, 900, 23, dtype, np.int32)
    loss = LossSpec.of(LOSSES["cross_entropy"], K, y=rng.integers(0, K, 900).astype(np.int64))
    for fit_intercept in (True, False):
        fused = LinearObjective(X, loss, l2=0.1, n_threads=2, fit_intercept=fit_intercept)
        ref = LinearObjective(X, loss, l2=0.1, fit_intercept=fit_intercept)
        ref._csr_pass = False
        assert fused._csr_pass
        theta = rng.normal(size=fused.n_params) * 0.3
        (f1, g1), (f2, g2) = fused.loss_gradient(theta), ref.loss_gradient(theta)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        assert f1 == pytest.approx(f2, rel=rtol)
        np.testing.assert_allclose(g1, g2, rtol=rtol * 10, atol=rtol)
        assert fused.loss(theta) == f1


def test_csr_pass_is_chosen_while_its_shares_fit():
    rng = np.random.default_rng(4)
    X = sp.random(10, 1000, density=0.01, format="csr", random_state=rng)
    loss = LossSpec.of(LOSSES["cross_entropy"], 20, y=rng.integers(0, 20, 10))
    assert LinearObjective(X, loss)._csr_pass
    # 4 shares of d x 20 float64 over 64 MB: scipy's chunked products
    wide = sp.random(10, 120_000, density=1e-4, format="csr", random_state=rng)
    assert LinearObjective(wide, loss)._csr_pass is False
    assert LinearObjective(np.asarray(X.todense()), loss)._csr_pass is False


@pytest.mark.parametrize("sparse", [False, True])
def test_chunks_give_the_one_pass_result(sparse):
    rng = np.random.default_rng(2)
    X = _X("csr" if sparse else "C", np.float64, rng)
    loss = _problem("cross_entropy", np.float64, rng)
    whole = LinearObjective(X, loss, l2=0.2, chunk_rows=10**6)
    chunked = LinearObjective(X, loss, l2=0.2, chunk_rows=5)
    whole._csr_pass = chunked._csr_pass = False   # the chunked scipy products
    theta = rng.normal(size=whole.n_params)
    f1, g1 = whole.loss_gradient(theta)
    f2, g2 = chunked.loss_gradient(theta)
    assert f2 == pytest.approx(f1, rel=1e-13)
    np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-14)
    # buffers are per chunk, not per sample; chunks of CSR are views of X
    assert chunked._Z.shape == (5, loss.n_outputs)
    if sparse:
        assert chunked._data is X.data
        assert all(np.shares_memory(c, X.indptr) for _, _, c in chunked._chunks)


def test_penalty_is_the_one_of_the_minibatch_loop():
    rng = np.random.default_rng(3)
    X = _X("C", np.float64, rng)
    loss = _problem("squared_error", np.float64, rng)
    opt = OptimizerSpec(alpha=0.3, penalty="elasticnet", l1_ratio=0.4)
    theta = rng.normal(size=D * 3 + 3)
    with_penalty = LinearObjective(X, loss, l1=opt.l1_l2()[0], l2=opt.l1_l2()[1])
    without = LinearObjective(X, loss)
    W = theta[:D * 3]
    assert with_penalty.loss(theta) - without.loss(theta) == pytest.approx(
        penalty_value(W, opt), rel=1e-12)
    # ... and penalty_value is alpha((1 - r)/2 ||W||^2 + r ||W||_1)
    assert penalty_value(W, opt) == pytest.approx(
        0.3 * (0.6 / 2 * W @ W + 0.4 * np.abs(W).sum()), rel=1e-14)


@pytest.mark.parametrize("case", ["cross_entropy", "cross_entropy_smoothed",
                                  "binary_cross_entropy", "squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_intercept_only_is_the_optimum_without_features(case, weighted):
    """At W = 0 the gradient in b vanishes at intercept_only (it is the
    minimizer of the convex loss of a constant model)."""
    rng = np.random.default_rng(4)
    loss = _problem(case, np.float64, rng)
    if loss.Y is not None and case == "binary_cross_entropy":
        loss.Y[:] = (loss.Y > 0.3)   # labels in {0, 1}
    sw = rng.random(N) * 3 if weighted else None
    obj = LinearObjective(np.zeros((N, 2)), loss, sample_weight=sw)
    b = intercept_only(loss, sw)
    grad = obj.gradient(np.concatenate([np.zeros(2 * loss.n_outputs), b]))
    np.testing.assert_allclose(grad, 0, atol=1e-12)
    if case.startswith("cross"):
        assert b.sum() == pytest.approx(0, abs=1e-12)   # centred
    assert obj.constant_loss(b) <= obj.constant_loss(np.zeros_like(b)) + 1e-15


def test_intercept_only_of_margin_losses_is_zero():
    rng = np.random.default_rng(5)
    for case in ("hinge", "squared_multi_margin"):
        loss = _problem(case, np.float64, rng)
        np.testing.assert_array_equal(intercept_only(loss), np.zeros(loss.n_outputs))


def test_bad_input():
    rng = np.random.default_rng(6)
    loss = _problem("squared_error", np.float64, rng)
    with pytest.raises(TypeError, match="dense or CSR"):
        LinearObjective(sp.csc_matrix(_X("C", np.float64, rng)), loss)
    with pytest.raises(ValueError, match="sum to zero"):
        LinearObjective(_X("C", np.float64, rng), loss, sample_weight=np.zeros(N))


def _misaligned(a):
    """A copy of `a` whose data starts one byte past an aligned address."""
    buf = np.zeros(a.nbytes + a.itemsize + 1, np.uint8)
    start = (-buf.ctypes.data) % a.itemsize + 1
    out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=start)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("case", ["cross_entropy", "squared_error"])
def test_misaligned_targets_and_weights_are_read_as_aligned_copies(case):
    # C-contiguous but misaligned (a view at an odd byte offset): the kernels'
    # typed loads need aligned data, so the objective takes aligned copies
    # (CI's sanitizer build stopped on such a sample_weight)
    rng = np.random.default_rng(5)
    loss = _problem(case, np.float64, rng)
    X = rng.normal(size=(N, D))
    sw = rng.random(N)
    bad = dataclasses.replace(loss, y=None if loss.y is None else _misaligned(loss.y),
                              Y=None if loss.Y is None else _misaligned(loss.Y))
    for fit_X in (X, np.asfortranarray(X)):   # the fused pass and BLAS
        obj = LinearObjective(fit_X, bad, sample_weight=_misaligned(sw))
        assert obj.sample_weight.flags.aligned
        assert all(t is None or t.flags.aligned for t in (obj.spec.y, obj.spec.Y))
        theta = rng.normal(size=obj.n_params)
        f, g = obj.loss_gradient(theta)
        f0, g0 = LinearObjective(fit_X, loss, sample_weight=sw).loss_gradient(theta)
        assert f == f0
        np.testing.assert_array_equal(g, g0)
