"""skce.losses.nt_xent: PyTorch autograd oracle, finite differences, thread
invariance, dtypes and layouts, edge cases and error messages."""
import numpy as np
import pytest

from skce import losses

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def make(rng, n, d, dtype=np.float64):
    return (rng.standard_normal((n, d)).astype(dtype),
            rng.standard_normal((n, d)).astype(dtype))


def assert_close(ours, ref, dtype, what):
    rtol = RTOL[np.dtype(dtype)]
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, (what, ours.shape, ref.shape)
    # a floor on the scale: for D = 1 with normalize the gradient is exactly 0
    # and torch's ~1e-101 is rounding noise
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-6)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale, err_msg=what)


# --------------------------------------------------------------------------
# PyTorch autograd reference
# --------------------------------------------------------------------------
def torch_reference(a, b, temperature, normalize, reduction):
    """(loss, grad_a, grad_b) in float64 from torch autograd."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    at = torch.tensor(a.astype(np.float64), requires_grad=True)
    bt = torch.tensor(b.astype(np.float64), requires_grad=True)
    z = torch.cat([at, bt])
    if normalize:
        z = F.normalize(z, dim=1)
    s = z @ z.T / temperature
    m = z.shape[0]
    n = m // 2
    s = s.masked_fill(torch.eye(m, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, m), torch.arange(0, n)])
    loss = F.cross_entropy(s, target, reduction=reduction)
    ga, gb = torch.autograd.grad(loss.sum(), (at, bt))
    return loss.detach().numpy(), ga.numpy(), gb.numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("temperature", [0.01, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("n, d", [(1, 3), (2, 1), (5, 7), (33, 20), (70, 130)])
def test_matches_torch(n, d, temperature, normalize, reduction, dtype):
    pytest.importorskip("torch")
    rng = np.random.default_rng(n * 1000 + d)
    a, b = make(rng, n, d, dtype)
    ref_loss, ref_ga, ref_gb = torch_reference(a, b, temperature, normalize, reduction)
    loss = losses.nt_xent(a, b, temperature=temperature, normalize=normalize,
                          reduction=reduction)
    loss_g, (ga, gb) = losses.nt_xent(a, b, temperature=temperature, normalize=normalize,
                                      reduction=reduction, return_grad=True)
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == dtype and loss.shape == (2 * n,)
    else:
        assert isinstance(loss, float)
    for g in (ga, gb):
        assert g.dtype == dtype and g.shape == (n, d)
    assert_close(loss, ref_loss, dtype, "loss")
    assert_close(loss_g, ref_loss, dtype, "loss (return_grad=True)")
    assert_close(ga, ref_ga, dtype, "grad_a")
    assert_close(gb, ref_gb, dtype, "grad_b")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("n, d", [(48, 5), (49, 131), (97, 64), (150, 37)])
def test_matches_torch_tiles(n, d, normalize, dtype):
    """The similarity matrix in 96 x 96 tiles: 2N = 96 (one tile), just over
    (2 tiles, the second of 2 rows), 3 tiles (an odd count: a bye in every
    round), 4 tiles with padding; D past the 128-column chunk of S."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(n + d)
    a, b = make(rng, n, d, dtype)
    if not normalize:
        a, b = a / np.sqrt(d), b / np.sqrt(d)
    for reduction in ("none", "mean"):
        ref_loss, ref_ga, ref_gb = torch_reference(a, b, 0.2, normalize, reduction)
        loss, (ga, gb) = losses.nt_xent(a, b, temperature=0.2, normalize=normalize,
                                        reduction=reduction, return_grad=True)
        assert_close(loss, ref_loss, dtype, "loss")
        assert_close(ga, ref_ga, dtype, "grad_a")
        assert_close(gb, ref_gb, dtype, "grad_b")


def test_matches_torch_block_boundaries():
    """2N crossing tiles and padded panels, D not a multiple of 12."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    a, b = make(rng, 49, 131)
    ref_loss, ref_ga, ref_gb = torch_reference(a, b, 0.2, True, "none")
    loss, (ga, gb) = losses.nt_xent(a, b, temperature=0.2, reduction="none", return_grad=True)
    assert_close(loss, ref_loss, np.float64, "loss")
    assert_close(ga, ref_ga, np.float64, "grad_a")
    assert_close(gb, ref_gb, np.float64, "grad_b")


# --------------------------------------------------------------------------
# numpy reference and finite differences (no torch)
# --------------------------------------------------------------------------
def numpy_loss(a, b, temperature, normalize):
    z = np.concatenate([a, b]).astype(np.float64)
    if normalize:
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = z @ z.T / temperature
    m = len(z)
    np.fill_diagonal(s, -np.inf)
    pos = (np.arange(m) + m // 2) % m
    mx = s.max(axis=1)
    lse = mx + np.log(np.exp(s - mx[:, None]).sum(axis=1))
    return lse - s[np.arange(m), pos]


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("temperature", [0.07, 0.5])
def test_matches_numpy_formula(normalize, temperature):
    rng = np.random.default_rng(1)
    a, b = make(rng, 9, 6)
    ours = losses.nt_xent(a, b, temperature=temperature, normalize=normalize, reduction="none")
    np.testing.assert_allclose(ours, numpy_loss(a, b, temperature, normalize), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("normalize", [True, False])
def test_gradient_finite_differences(normalize, reduction):
    rng = np.random.default_rng(2)
    n, d, temperature = 4, 5, 0.3
    a, b = make(rng, n, d)
    _, (ga, gb) = losses.nt_xent(a, b, temperature=temperature, normalize=normalize,
                                 reduction=reduction, return_grad=True)

    def f(a_, b_):
        out = losses.nt_xent(a_, b_, temperature=temperature, normalize=normalize,
                             reduction=reduction)
        return float(np.sum(out))

    h = 1e-6
    for x, g, which in ((a, ga, 0), (b, gb, 1)):
        num = np.empty_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += h
            xm[idx] -= h
            args_p = (xp, b) if which == 0 else (a, xp)
            args_m = (xm, b) if which == 0 else (a, xm)
            num[idx] = (f(*args_p) - f(*args_m)) / (2 * h)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_normalized_gradient_is_orthogonal_to_rows():
    """With normalize, the loss is scale invariant per row: grad_i . z_i = 0."""
    rng = np.random.default_rng(3)
    a, b = make(rng, 6, 4)
    _, (ga, gb) = losses.nt_xent(a, b, return_grad=True)
    np.testing.assert_allclose(np.sum(ga * a, axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.sum(gb * b, axis=1), 0.0, atol=1e-15)
    loss2 = losses.nt_xent(3.0 * a, 0.5 * b)
    assert loss2 == pytest.approx(losses.nt_xent(a, b), rel=1e-14)


# --------------------------------------------------------------------------
# stability and edge cases
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identical_vectors_and_low_temperature(dtype):
    n, d = 8, 5
    a = np.ones((n, d), dtype=dtype)
    for t in (0.01, 1e-4):
        loss, (ga, gb) = losses.nt_xent(a, a.copy(), temperature=t, reduction="none",
                                        return_grad=True)
        # every logit is 1/t: loss_i = log(2N - 1), gradient 0
        np.testing.assert_allclose(loss, np.log(2 * n - 1), rtol=1e-6)
        assert np.isfinite(ga).all() and np.isfinite(gb).all()
        np.testing.assert_allclose(ga, 0.0, atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_low_temperature_is_finite(dtype):
    rng = np.random.default_rng(4)
    a, b = make(rng, 50, 16, dtype)
    loss, (ga, gb) = losses.nt_xent(a, b, temperature=0.01, return_grad=True)
    assert np.isfinite(loss) and np.isfinite(ga).all() and np.isfinite(gb).all()
    ref = numpy_loss(a, b, 0.01, True).mean()
    assert loss == pytest.approx(ref, rel=RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("normalize", [True, False])
def test_single_pair_has_zero_loss(normalize, dtype):
    rng = np.random.default_rng(6)
    a, b = make(rng, 1, 4, dtype)
    loss, (ga, gb) = losses.nt_xent(a, b, normalize=normalize, reduction="none",
                                    return_grad=True)
    np.testing.assert_array_equal(loss, [0.0, 0.0])
    np.testing.assert_array_equal(ga, 0.0)
    np.testing.assert_array_equal(gb, 0.0)


def test_extreme_magnitudes_with_normalize():
    rng = np.random.default_rng(7)
    a, b = make(rng, 5, 3)
    ref = losses.nt_xent(a, b)
    for scale in (1e-300, 1e-160, 1e160, 1e300):
        loss, (ga, gb) = losses.nt_xent(a * scale, b * scale, return_grad=True)
        assert loss == pytest.approx(ref, rel=1e-13)
        assert np.isfinite(ga).all() and np.isfinite(gb).all()


# --------------------------------------------------------------------------
# threads, dtypes, layouts
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("n, normalize", [(150, True), (290, False)])
def test_thread_count_invariance(n, normalize, dtype, reduction):
    # 300 rows: 4 tiles of 96, 2 per round; 580 rows: 7 tiles (a bye each round)
    rng = np.random.default_rng(8)
    a, b = make(rng, n, 37, dtype)
    kw = dict(temperature=0.1, normalize=normalize, reduction=reduction)
    ref_loss, (ref_ga, ref_gb) = losses.nt_xent(a, b, return_grad=True, n_threads=1, **kw)
    for nt in (2, 3):
        loss, (ga, gb) = losses.nt_xent(a, b, return_grad=True, n_threads=nt, **kw)
        np.testing.assert_array_equal(loss, ref_loss)
        np.testing.assert_array_equal(ga, ref_ga)
        np.testing.assert_array_equal(gb, ref_gb)
        np.testing.assert_array_equal(losses.nt_xent(a, b, n_threads=nt, **kw), ref_loss)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_count_invariance_oversubscribed(dtype):
    """The wrapper itself with 1..5 threads (the public n_threads is capped at
    the CPU count): 580 rows, 7 tiles, so 4 per round with a bye."""
    from skce._loss import _ntxent

    rng = np.random.default_rng(11)
    a, b = make(rng, 290, 20, dtype)
    results = []
    for nt in range(1, 6):
        rows, ga, gb = np.empty(580, dtype), np.empty_like(a), np.empty_like(b)
        total, bad = _ntxent.nt_xent(a, b, 0.3, True, 1.0, rows, ga, gb, nt)
        assert bad == -1
        results.append((total, rows, ga, gb))
    for total, rows, ga, gb in results[1:]:
        assert total == results[0][0]
        for x, ref in zip((rows, ga, gb), results[0][1:]):
            np.testing.assert_array_equal(x, ref)


def test_float32_in_float32_out():
    rng = np.random.default_rng(9)
    a, b = make(rng, 10, 4, np.float32)
    loss, (ga, gb) = losses.nt_xent(a, b, reduction="none", return_grad=True)
    assert loss.dtype == np.float32 and ga.dtype == np.float32 and gb.dtype == np.float32
    assert isinstance(losses.nt_xent(a, b), float)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["fortran", "strided", "transposed", "mixed", "readonly"])
def test_memory_layouts(dtype, kind):
    rng = np.random.default_rng(10)
    a, b = make(rng, 12, 9, dtype)
    ref_loss, (ref_ga, ref_gb) = losses.nt_xent(a, b, temperature=0.2, return_grad=True)
    if kind == "fortran":
        a2, b2 = np.asfortranarray(a), np.asfortranarray(b)
    elif kind == "strided":
        big_a = np.zeros((24, 27), dtype=dtype)
        big_b = np.zeros((36, 18), dtype=dtype)
        big_a[::2, ::3] = a
        big_b[::3, ::2] = b
        a2, b2 = big_a[::2, ::3], big_b[::3, ::2]
    elif kind == "transposed":
        a2, b2 = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    elif kind == "mixed":
        a2, b2 = np.asfortranarray(a), b[::-1][::-1]
    else:
        a2, b2 = a.copy(), b.copy()
        a2.flags.writeable = False
        b2.flags.writeable = False
    loss, (ga, gb) = losses.nt_xent(a2, b2, temperature=0.2, return_grad=True)
    assert ga.shape == a.shape and gb.shape == b.shape
    np.testing.assert_array_equal(loss, ref_loss)
    np.testing.assert_array_equal(ga, ref_ga)
    np.testing.assert_array_equal(gb, ref_gb)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
A = np.ones((3, 2))
Z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(z_a=A.astype(np.int64), z_b=A), TypeError, "z_a must be a float32 or float64"),
    (dict(z_a=A, z_b=A.astype(np.float32)), TypeError, "same dtype"),
    (dict(z_a=A, z_b=np.ones((4, 2))), ValueError, "same shape"),
    (dict(z_a=A, z_b=np.ones((3, 3))), ValueError, "same shape"),
    (dict(z_a=np.ones(3), z_b=np.ones(3)), ValueError, r"z_a must have shape \(N, D\)"),
    (dict(z_a=A, z_b=np.ones((3, 2, 1))), ValueError, r"z_b must have shape \(N, D\)"),
    (dict(z_a=np.ones((0, 2)), z_b=np.ones((0, 2))), ValueError, "N >= 1"),
    (dict(z_a=np.ones((3, 0)), z_b=np.ones((3, 0))), ValueError, "D >= 1"),
    (dict(z_a=np.where(A == 1, np.nan, A), z_b=A), ValueError, "z_a contains NaN"),
    (dict(z_a=A, z_b=np.full((3, 2), np.inf)), ValueError, "z_b contains NaN or inf"),
    (dict(z_a=A, z_b=A, temperature=0.0), ValueError, "temperature must be in"),
    (dict(z_a=A, z_b=A, temperature=-1.0), ValueError, "temperature must be in"),
    (dict(z_a=A, z_b=A, temperature=np.inf), ValueError, "temperature must be finite"),
    (dict(z_a=A, z_b=A, temperature=1e-320), ValueError, "temperature=.* too small"),
    (dict(z_a=A, z_b=A, temperature="0.5"), TypeError, "temperature must be a real number"),
    (dict(z_a=A, z_b=A, reduction="avg"), ValueError, "reduction must be one of"),
    (dict(z_a=A, z_b=A, normalize=1), TypeError, "normalize must be True or False"),
    (dict(z_a=A, z_b=A, n_threads=0), ValueError, "n_threads=0"),
    (dict(z_a=np.vstack([Z[:1], np.zeros((1, 2)), Z[1:2]]), z_b=Z), ValueError,
     r"z_a row 1 is all zeros.*normalize=False"),
    (dict(z_a=Z, z_b=np.vstack([Z[:2], np.zeros((1, 2))])), ValueError,
     r"z_b row 2 is all zeros.*drop or replace"),
])
def test_bad_input_raises_naming_the_argument(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        losses.nt_xent(**kwargs)


def test_zero_row_is_fine_without_normalize():
    a = np.vstack([np.zeros((1, 2)), np.ones((2, 2))])
    loss, (ga, gb) = losses.nt_xent(a, a[::-1].copy(), normalize=False, return_grad=True)
    assert np.isfinite(loss) and np.isfinite(ga).all() and np.isfinite(gb).all()
