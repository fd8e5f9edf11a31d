"""BCE with logits, multi-margin, hinge, MSE and Huber losses: torch / numpy
references, finite differences, extreme logits, thread and layout
invariance, error messages."""
import numpy as np
import pytest

from _checks import crammer_singer_ref
from skce import losses as L

REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [np.float64, np.float32]


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)


def _torch():
    return pytest.importorskip("torch")


def _t(a, grad=False):
    torch = _torch()
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _torch_reduce(loss_none, reduction, sample_weight):
    """torch reduction of a 'none' loss, with skce's sample_weight semantics."""
    if sample_weight is None:
        if reduction == "none":
            return loss_none
        return loss_none.sum() if reduction == "sum" else loss_none.mean()
    sw = _t(sample_weight).reshape((-1,) + (1,) * (loss_none.ndim - 1))
    weighted = loss_none * sw
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / (sw.sum() * (loss_none.numel() // loss_none.shape[0]))


def _backward(out):
    (out.sum() if out.ndim else out).backward()


def _check(ours, ref_loss, ref_grad, dtype, reduction, shape):
    loss, grad = ours
    tol = _tol(dtype)
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == dtype
        assert loss.shape == tuple(ref_loss.shape)
        np.testing.assert_allclose(loss, ref_loss.detach().numpy(), **tol)
    else:
        assert isinstance(loss, float)
        np.testing.assert_allclose(loss, ref_loss.item(), **tol)
    assert grad.shape == shape and grad.dtype == dtype
    np.testing.assert_allclose(grad, ref_grad.numpy(), **tol)


# ---------------------------------------------------------------------------
# torch references
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(11, 5), (6, 3, 4), (9,), (3, 2, 4, 5)])
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "both", "sample_weight",
                                  "full_weight", "row_weight"])
def test_bce_vs_torch(dtype, reduction, shape, opts):
    torch = _torch()
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = rng.random(shape).astype(dtype)
    y.flat[::3] = np.round(y.flat[::3])
    Ld = shape[-1]
    kw, tkw, sw = {}, {}, None
    if opts in ("weight", "both"):
        kw["weight"] = rng.random(Ld) + 0.1
    if opts == "full_weight":
        kw["weight"] = rng.random(shape)
    if opts == "row_weight":
        kw["weight"] = rng.random((shape[0],) + (1,) * (len(shape) - 1))
    if opts in ("pos_weight", "both"):
        kw["pos_weight"] = rng.random(Ld) * 3
    if opts == "sample_weight":
        sw = rng.random(shape[0]) + 0.2
        kw["sample_weight"] = sw
    for k in ("weight", "pos_weight"):
        if k in kw:
            tkw[k] = _t(kw[k])
    ours = L.binary_cross_entropy_with_logits(x, y, reduction=reduction, return_grad=True, **kw)
    xt = _t(x, grad=True)
    if sw is None:
        ref = torch.nn.functional.binary_cross_entropy_with_logits(
            xt, _t(y), reduction=reduction, **tkw)
    else:
        ref = _torch_reduce(torch.nn.functional.binary_cross_entropy_with_logits(
            xt, _t(y), reduction="none", **tkw), reduction, sw)
    _backward(ref)
    _check(ours, ref, xt.grad, dtype, reduction, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("opts", ["plain", "margin", "weight", "sample_weight", "unbatched"])
def test_multi_margin_weston_watkins_vs_torch(dtype, reduction, p, opts):
    torch = _torch()
    rng = np.random.default_rng(1)
    n, C = 17, 6
    x = rng.standard_normal((n, C)).astype(dtype)
    t = rng.integers(0, C, n)
    kw, tkw, sw = {}, {}, None
    if opts == "margin":
        kw["margin"] = tkw["margin"] = 0.4
    if opts == "weight":
        kw["weight"] = rng.random(C) + 0.1
        tkw["weight"] = _t(kw["weight"])
    if opts == "sample_weight":
        sw = kw["sample_weight"] = rng.random(n) + 0.2
    if opts == "unbatched":
        x, t = x[0], t[0]
    ours = L.multi_margin_loss(x, t, p=p, reduction=reduction, return_grad=True, **kw)
    xt = _t(x, grad=True)
    tt = torch.tensor(t)
    if sw is None:
        ref = torch.nn.functional.multi_margin_loss(xt, tt, p=p, reduction=reduction, **tkw)
    else:
        ref = _torch_reduce(torch.nn.functional.multi_margin_loss(
            xt, tt, p=p, reduction="none", **tkw), reduction, sw)
    _backward(ref)
    _check(ours, ref, xt.grad, dtype, reduction, x.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["mse", "huber", "huber_delta"])
@pytest.mark.parametrize("shape,weighted", [((13, 4), False), ((13, 4), True), ((5, 3, 2), True),
                                            ((8,), False), ((8,), True), ((), False)])
def test_mse_huber_vs_torch(dtype, reduction, fn, shape, weighted):
    torch = _torch()
    rng = np.random.default_rng(2)
    x = np.asarray(rng.standard_normal(shape) * 2, dtype=dtype)
    y = np.asarray(rng.standard_normal(shape), dtype=dtype)
    sw = rng.random(shape[0]) + 0.2 if weighted else None
    xt = _t(x, grad=True)
    if fn == "mse":
        ours = L.mse_loss(x, y, reduction=reduction, sample_weight=sw, return_grad=True)
        tfn = lambda red: torch.nn.functional.mse_loss(xt, _t(y), reduction=red)  # noqa: E731
    else:
        delta = 1.0 if fn == "huber" else 0.7
        kw = {} if fn == "huber" else {"delta": delta}
        ours = L.huber_loss(x, y, reduction=reduction, sample_weight=sw, return_grad=True, **kw)
        tfn = lambda red: torch.nn.functional.huber_loss(  # noqa: E731
            xt, _t(y), reduction=red, delta=delta)
    ref = tfn(reduction) if sw is None else _torch_reduce(tfn("none"), reduction, sw)
    _backward(ref)
    _check(ours, ref, xt.grad, dtype, reduction, shape)


# ---------------------------------------------------------------------------
# numpy references: Crammer-Singer, hinge
# ---------------------------------------------------------------------------

def _np_reduce(loss_rows, grad_rows, reduction, sw, per_sample):
    """Reduce per-element losses (first axis = samples) and their gradients."""
    w = np.ones(loss_rows.shape[0]) if sw is None else sw
    wb = w.reshape((-1,) + (1,) * (loss_rows.ndim - 1))
    loss, grad = loss_rows * wb, grad_rows * w.reshape((-1,) + (1,) * (grad_rows.ndim - 1))
    if reduction == "none":
        return loss, grad
    if reduction == "sum":
        return loss.sum(), grad
    d = w.sum() * per_sample
    return loss.sum() / d, grad / d


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("opts", ["plain", "margin", "weight", "sample_weight"])
def test_crammer_singer_vs_numpy(dtype, reduction, p, opts):
    rng = np.random.default_rng(3)
    n, C = 19, 5
    x = rng.standard_normal((n, C)).astype(dtype)
    x[0, :] = 0.25          # ties: the subgradient goes to the first wrong class
    t = rng.integers(0, C, n)
    margin = 0.3 if opts == "margin" else 1.0
    weight = rng.random(C) + 0.1 if opts == "weight" else None
    sw = rng.random(n) + 0.2 if opts == "sample_weight" else None
    loss, grad = L.multi_margin_loss(x, t, p=p, margin=margin, weight=weight, sample_weight=sw,
                                     kind="crammer_singer", reduction=reduction,
                                     return_grad=True)
    rl, rg = crammer_singer_ref(x.astype(np.float64), t, p, margin, weight)
    el, eg = _np_reduce(rl, rg, reduction, sw, 1)
    np.testing.assert_allclose(loss, el, **_tol(dtype))
    np.testing.assert_allclose(grad, eg, **_tol(dtype))
    assert grad.dtype == dtype


def _hinge_ref(x, y, squared, margin):
    s = np.where(y > 0, 1.0, -1.0)
    m = margin - s * x
    h = np.maximum(m, 0.0)
    if squared:
        return h * h, -2 * s * h
    return h, np.where(m > 0, -s, 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("labels", ["pm1", "01", "01_int"])
@pytest.mark.parametrize("shape,weighted", [((23,), False), ((23,), True), ((9, 4), True),
                                            ((4, 3, 5), False)])
def test_hinge_vs_numpy(dtype, reduction, squared, labels, shape, weighted):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    y01 = rng.integers(0, 2, shape)
    y = {"pm1": (2 * y01 - 1).astype(dtype), "01": y01.astype(dtype), "01_int": y01}[labels]
    margin = 0.5 if squared else 1.0
    sw = rng.random(shape[0]) + 0.2 if weighted else None
    loss, grad = L.hinge_loss(x, y, squared=squared, margin=margin, reduction=reduction,
                              sample_weight=sw, return_grad=True)
    rl, rg = _hinge_ref(x.astype(np.float64), y01, squared, margin)
    el, eg = _np_reduce(rl, rg, reduction, sw, x.size // shape[0])
    np.testing.assert_allclose(loss, el, **_tol(dtype))
    np.testing.assert_allclose(grad, eg, **_tol(dtype))
    assert grad.dtype == dtype and grad.shape == shape


# ---------------------------------------------------------------------------
# finite differences (float64)
# ---------------------------------------------------------------------------

def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (f(xp) - f(xm)) / (2 * eps)
    return g


def _fd_cases():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 4)) * 2
    yf = rng.random((5, 4))
    ypm = np.where(rng.random((5, 4)) > 0.5, 1.0, -1.0)
    t = rng.integers(0, 4, 5)
    sw = rng.random(5) + 0.5
    cw = rng.random(4) + 0.5
    return x, [
        ("bce", lambda z, **k: L.binary_cross_entropy_with_logits(
            z, yf, weight=cw, pos_weight=cw[::-1].copy(), sample_weight=sw, **k)),
        ("mse", lambda z, **k: L.mse_loss(z, yf, sample_weight=sw, **k)),
        ("huber", lambda z, **k: L.huber_loss(z, yf, delta=0.8, sample_weight=sw, **k)),
        ("hinge", lambda z, **k: L.hinge_loss(z, ypm, sample_weight=sw, **k)),
        ("sq_hinge", lambda z, **k: L.hinge_loss(z, ypm, squared=True, margin=2.0, **k)),
        ("ww_p1", lambda z, **k: L.multi_margin_loss(z, t, weight=cw, sample_weight=sw, **k)),
        ("ww_p2", lambda z, **k: L.multi_margin_loss(z, t, p=2, margin=0.5, **k)),
        ("cs_p1", lambda z, **k: L.multi_margin_loss(z, t, kind="crammer_singer",
                                                     sample_weight=sw, **k)),
        ("cs_p2", lambda z, **k: L.multi_margin_loss(z, t, p=2, kind="crammer_singer",
                                                     weight=cw, **k)),
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("case", range(9))
def test_finite_differences(case, reduction):
    x, cases = _fd_cases()
    name, f = cases[case]
    _, grad = f(x, reduction=reduction, return_grad=True)
    fd = _fd_grad(lambda z: f(z, reduction=reduction), x)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8, err_msg=name)


def test_finite_differences_none_is_gradient_of_sum():
    x, cases = _fd_cases()
    for name, f in cases:
        loss, grad = f(x, reduction="none", return_grad=True)
        fd = _fd_grad(lambda z: float(np.sum(f(z, reduction="none"))), x)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8, err_msg=name)


# ---------------------------------------------------------------------------
# extreme BCE logits
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,big", [(np.float64, 1e300), (np.float32, 3e38)])
def test_bce_extreme_logits_finite(dtype, big):
    x = np.array([big, -big, big, -big, big, -big, 0.0, 50.0, -50.0], dtype=dtype)
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.5, 1.0, 0.0], dtype=dtype)
    loss, grad = L.binary_cross_entropy_with_logits(x, y, reduction="none", return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    b = float(dtype(big))
    expected = [b, b, 0.0, 0.0, b / 2, b / 2, np.log(2.0), np.log1p(np.exp(-50.0)),
                np.log1p(np.exp(-50.0))]
    np.testing.assert_allclose(loss, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(grad, [1, -1, 0, 0, 0.5, -0.5, 0, 0, 0], atol=1e-6)
    # the tiny losses keep full relative precision (log1p, not log(1 + e))
    assert loss[7] == pytest.approx(np.exp(-50.0), rel=1e-6)
    for red in ("mean", "sum"):
        total, g = L.binary_cross_entropy_with_logits(
            x, y, reduction=red, pos_weight=np.ones(1), weight=np.full(9, 0.5),
            return_grad=True)
        assert np.isfinite(total) and np.isfinite(g).all()


def test_bce_extreme_logits_match_torch():
    torch = _torch()
    x = np.array([1e300, -1e300, 700.0, -700.0, 40.0, -40.0, 1e-300])
    y = np.array([0.3, 0.7, 0.0, 1.0, 1.0, 0.0, 0.5])
    xt = _t(x, grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(xt, _t(y), reduction="sum")
    ref.backward()
    loss, grad = L.binary_cross_entropy_with_logits(x, y, reduction="sum", return_grad=True)
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    # torch's gradient at x = 40, y = 1 cancels to 0; ours is -exp(-40)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12, atol=1e-17)


# ---------------------------------------------------------------------------
# thread and layout invariance
# ---------------------------------------------------------------------------

def _all_calls(x, rng):
    n, C = x.shape
    y = rng.random(x.shape).astype(x.dtype)
    ypm = np.where(y > 0.5, 1, -1).astype(x.dtype)
    t = rng.integers(0, C, n)
    sw = rng.random(n)
    return {
        "bce": lambda z, **k: L.binary_cross_entropy_with_logits(
            z, y, pos_weight=np.arange(1, C + 1.0), **k),
        "bce_sw": lambda z, **k: L.binary_cross_entropy_with_logits(z, y, sample_weight=sw, **k),
        "mse": lambda z, **k: L.mse_loss(z, y, **k),
        "mse_sw": lambda z, **k: L.mse_loss(z, y, sample_weight=sw, **k),
        "huber": lambda z, **k: L.huber_loss(z, y, delta=0.3, sample_weight=sw, **k),
        "hinge": lambda z, **k: L.hinge_loss(z, ypm, **k),
        "sq_hinge": lambda z, **k: L.hinge_loss(z, ypm, squared=True, sample_weight=sw, **k),
        "ww": lambda z, **k: L.multi_margin_loss(z, t, p=2, sample_weight=sw, **k),
        "cs": lambda z, **k: L.multi_margin_loss(z, t, kind="crammer_singer", **k),
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((20_000, 7)).astype(dtype)
    for name, f in _all_calls(x, rng).items():
        for red in ("mean", "none"):
            l1, g1 = f(x, reduction=red, return_grad=True, n_threads=1)
            l2, g2 = f(x, reduction=red, return_grad=True, n_threads=2)
            np.testing.assert_array_equal(l1, l2, err_msg=name)
            np.testing.assert_array_equal(g1, g2, err_msg=name)
    # the 1-D path (sample weights as element weights)
    x1 = rng.standard_normal(50_001).astype(dtype)
    y1 = rng.random(50_001).astype(dtype)
    sw1 = rng.random(50_001)
    a = L.mse_loss(x1, y1, sample_weight=sw1, return_grad=True, n_threads=1)
    b = L.mse_loss(x1, y1, sample_weight=sw1, return_grad=True, n_threads=2)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["fortran", "sliced", "readonly", "transposed_view",
                                    "reversed"])
def test_layouts_match_c_contiguous(dtype, layout):
    rng = np.random.default_rng(7)
    base = rng.standard_normal((301, 9)).astype(dtype)
    calls = _all_calls(base, rng)
    if layout == "fortran":
        x = np.asfortranarray(base)
    elif layout == "sliced":
        big = np.zeros((602, 20), dtype=dtype)
        big[::2, 1:19:2] = base
        x = big[::2, 1:19:2]
    elif layout == "readonly":
        x = base.copy()
        x.flags.writeable = False
    elif layout == "reversed":
        x = np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1]
    else:
        x = np.ascontiguousarray(base.T).T
    np.testing.assert_array_equal(x, base)
    for name, f in calls.items():
        for red in ("none", "mean", "sum"):
            lc, gc = f(base, reduction=red, return_grad=True)
            lx, gx = f(x, reduction=red, return_grad=True)
            if red == "none":
                np.testing.assert_array_equal(lx, lc, err_msg=name)
            else:   # the summation order may follow the layout
                np.testing.assert_allclose(lx, lc, rtol=1e-13 if dtype == np.float64 else 1e-6,
                                           err_msg=name)
            np.testing.assert_array_equal(gx, gc, err_msg=name)
            assert gx.dtype == dtype and gx.shape == base.shape


def test_layouts_3d_and_targets():
    """Strided targets / weights and 3-D Fortran input agree with C order."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 5, 4))
    y = rng.random((6, 5, 4))
    w = rng.random((6, 1, 4))
    xf, yf = np.asfortranarray(x), np.asfortranarray(y)
    for red in ("none", "sum"):
        a = L.binary_cross_entropy_with_logits(x, y, weight=w, reduction=red, return_grad=True)
        b = L.binary_cross_entropy_with_logits(xf, yf, weight=w, reduction=red,
                                               return_grad=True)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        np.testing.assert_array_equal(a[1], b[1])
        assert b[1].flags.f_contiguous
    # 4-D Fortran input (middle axes not mergeable: viewed through a copy)
    x4 = rng.standard_normal((3, 4, 2, 5))
    y4 = rng.random((3, 4, 2, 5))
    for red in ("none", "mean"):
        a = L.mse_loss(x4, y4, reduction=red, return_grad=True, sample_weight=np.ones(3))
        b = L.mse_loss(np.asfortranarray(x4), np.asfortranarray(y4), reduction=red,
                       return_grad=True, sample_weight=np.ones(3))
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        np.testing.assert_array_equal(a[1], b[1])
    # strided targets
    yb = np.zeros((6, 5, 8))
    yb[..., ::2] = y
    a = L.huber_loss(x, y, reduction="none", return_grad=True)
    b = L.huber_loss(x, yb[..., ::2], reduction="none", return_grad=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # a float32 input does not up-cast, even with float64 targets
    x32 = x.astype(np.float32)
    loss, g = L.mse_loss(x32, y, reduction="none", return_grad=True)
    assert loss.dtype == np.float32 and g.dtype == np.float32


def test_empty_and_mean_of_nothing():
    x = np.zeros((0, 3))
    assert np.isnan(L.mse_loss(x, x))
    assert L.hinge_loss(x, x + 1, reduction="sum") == 0.0
    loss, g = L.binary_cross_entropy_with_logits(x, x, reduction="none", return_grad=True)
    assert loss.shape == (0, 3) and g.shape == (0, 3)
    loss, g = L.multi_margin_loss(x, np.zeros(0, dtype=np.int64), reduction="none",
                                  return_grad=True)
    assert loss.shape == (0,) and g.shape == (0, 3)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_errors():
    x = np.zeros((4, 3))
    y = np.zeros((4, 3))
    t = np.array([0, 1, 2, 0])
    with pytest.raises(TypeError, match="input"):
        L.mse_loss(np.zeros((4, 3), dtype=np.int64), y)
    with pytest.raises(TypeError, match="input"):
        L.multi_margin_loss(np.zeros((4, 3), dtype=np.int32), t)
    with pytest.raises(ValueError, match="target"):
        L.mse_loss(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="target"):
        L.binary_cross_entropy_with_logits(x, np.zeros(3))
    with pytest.raises(TypeError, match="target"):
        L.huber_loss(x, np.zeros((4, 3), dtype=np.int64))
    for bad in (np.nan, np.inf, -np.inf):
        yb = y.copy()
        yb[2, 1] = bad
        with pytest.raises(ValueError, match="target"):
            L.mse_loss(x, yb)
        with pytest.raises(ValueError, match="target"):
            L.huber_loss(x, yb, sample_weight=np.array([1.0, 1.0, 0.0, 1.0]))
        with pytest.raises(ValueError, match="target"):
            L.binary_cross_entropy_with_logits(x, yb, reduction="none")
        with pytest.raises(ValueError, match="target"):
            L.hinge_loss(x, yb + 1)
    # a NaN input is the caller's business: it propagates
    xn = x.copy()
    xn[0, 0] = np.nan
    assert np.isnan(L.mse_loss(xn, y))
    with pytest.raises(ValueError, match="weight"):
        L.binary_cross_entropy_with_logits(x, y, weight=-np.ones(3))
    with pytest.raises(ValueError, match="pos_weight"):
        L.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="pos_weight"):
        L.binary_cross_entropy_with_logits(x, y, pos_weight=np.ones(2))
    with pytest.raises(ValueError, match="weight"):
        L.multi_margin_loss(x, t, weight=np.array([1.0, -2.0, 1.0]))
    with pytest.raises(ValueError, match="sample_weight"):
        L.mse_loss(x, y, sample_weight=-np.ones(4))
    with pytest.raises(ValueError, match="sample_weight"):
        L.hinge_loss(x, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        L.multi_margin_loss(x, t, sample_weight=np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        L.mse_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        L.multi_margin_loss(x, t, reduction="elementwise_mean")
    with pytest.raises(ValueError, match="p must"):
        L.multi_margin_loss(x, t, p=3)
    with pytest.raises(ValueError, match="p must"):
        L.multi_margin_loss(x, t, p=True)
    with pytest.raises(ValueError, match="margin"):
        L.multi_margin_loss(x, t, margin=np.inf)
    with pytest.raises(ValueError, match="margin"):
        L.hinge_loss(x, y, margin=np.nan)
    with pytest.raises(ValueError, match="kind"):
        L.multi_margin_loss(x, t, kind="one_vs_rest")
    with pytest.raises(ValueError, match="delta"):
        L.huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match="delta"):
        L.huber_loss(x, y, delta=-1)
    with pytest.raises(ValueError, match="target"):
        L.multi_margin_loss(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="target"):
        L.multi_margin_loss(x, np.array([0, -1, 2, 0]))
    with pytest.raises(TypeError, match="target"):
        L.multi_margin_loss(x, t.astype(float))
    with pytest.raises(ValueError, match="target"):
        L.multi_margin_loss(x, t[:3])
    with pytest.raises(ValueError, match="input"):
        L.multi_margin_loss(np.zeros((2, 3, 4)), t)
    with pytest.raises(ValueError, match="target"):
        L.hinge_loss(x, np.full((4, 3), 2.0))
    with pytest.raises(ValueError, match="target"):
        L.hinge_loss(x, np.array([[0, 1, -1]] * 4))
    with pytest.raises(TypeError, match="squared"):
        L.hinge_loss(x, y, squared="yes")
    with pytest.raises(ValueError, match="n_threads"):
        L.mse_loss(x, y, n_threads=0)


def test_public_api():
    for name in ("binary_cross_entropy_with_logits", "multi_margin_loss", "hinge_loss",
                 "mse_loss", "huber_loss"):
        assert name in L.__all__
    # keyword-only options
    with pytest.raises(TypeError):
        L.mse_loss(np.zeros(2), np.zeros(2), "sum")
