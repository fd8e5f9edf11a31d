"""Numerical properties of skce.losses that do not need torch.

(a) central finite-difference gradient checks for every loss;
(b) extreme logits (+-1e300 in float64, +-3e38 in float32, -inf for
    non-target classes) against careful numpy/scipy references;
(c) bitwise invariance to the number of threads;
(d) memory layouts: read-only, Fortran order, strided slices;
(e) softmax / log_softmax identities;
(f) error messages that name the offending argument.

torch is used only where a test says so, and those tests skip without it.
"""
import numpy as np
import pytest
from scipy.special import expit, logsumexp

from _checks import crammer_singer_ref
from skce import losses

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


# --------------------------------------------------------------------------
# data: one builder per loss configuration
# --------------------------------------------------------------------------
def _sw(rng, n):
    sw = rng.uniform(0.0, 2.0, n)
    sw[0] = 0.0
    return sw


def _class_weight(rng, C):
    return rng.uniform(0.2, 2.0, C)


def _index_target(rng, C, shape, ignore_index=None):
    t = rng.integers(0, C, size=shape)
    if ignore_index is not None:
        m = rng.random(shape) < 0.2
        m.reshape(-1)[0] = True
        m.reshape(-1)[-1] = False
        t[m] = ignore_index
    return t


def _prob_target(rng, shape):
    C = shape[1]
    y = rng.dirichlet(np.ones(C), size=(shape[0],) + tuple(shape[2:]))
    return np.moveaxis(y, -1, 1)


def _away_rows(rng, n, C, margin, t, crammer):
    """Logit rows whose margin terms are >= 0.02 away from every kink."""
    x = np.empty((n, C))
    for i in range(n):
        while True:
            row = rng.standard_normal(C)
            others = np.delete(row, t[i])
            z = margin + others - row[t[i]]
            if crammer:
                srt = np.sort(others)
                ok = abs(margin + srt[-1] - row[t[i]]) > 0.02 and (
                    len(srt) < 2 or srt[-1] - srt[-2] > 0.02)
            else:
                ok = np.abs(z).min() > 0.02
            if ok:
                x[i] = row
                break
    return x


def build(name, rng, n, dtype=np.float64):
    """(fn, x, target, kwargs) for configuration `name` with n samples."""
    C = 5
    if name == "ce_plain":
        return losses.cross_entropy, rng.standard_normal((n, C)), rng.integers(0, C, n), {}
    if name == "ce_index":
        x = 2 * rng.standard_normal((n, C))
        t = _index_target(rng, C, (n,), -100)
        kw = dict(weight=_class_weight(rng, C), label_smoothing=0.1, sample_weight=_sw(rng, n))
        return losses.cross_entropy, x, t, kw
    if name == "ce_ignore3":
        x = 2 * rng.standard_normal((n, C))
        t = _index_target(rng, C, (n,), 3)
        kw = dict(weight=_class_weight(rng, C), ignore_index=3)
        return losses.cross_entropy, x, t, kw
    if name == "ce_prob":
        x = 2 * rng.standard_normal((n, C))
        y = _prob_target(rng, (n, C))
        kw = dict(weight=_class_weight(rng, C), label_smoothing=0.2, sample_weight=_sw(rng, n))
        return losses.cross_entropy, x, y, kw
    if name == "ce_nd":
        x = 2 * rng.standard_normal((n, 4, 3, 2))
        t = _index_target(rng, 4, (n, 3, 2), 1)
        kw = dict(weight=_class_weight(rng, 4), ignore_index=1, label_smoothing=0.1,
                  sample_weight=_sw(rng, n))
        return losses.cross_entropy, x, t, kw
    if name == "ce_prob_nd":
        x = 2 * rng.standard_normal((n, 4, 3))
        y = _prob_target(rng, (n, 4, 3))
        kw = dict(weight=_class_weight(rng, 4), sample_weight=_sw(rng, n))
        return losses.cross_entropy, x, y, kw
    if name == "nll":
        logits = 2 * rng.standard_normal((n, C))
        x = logits - logsumexp(logits, axis=1, keepdims=True)
        t = _index_target(rng, C, (n,), 2)
        kw = dict(weight=_class_weight(rng, C), ignore_index=2, sample_weight=_sw(rng, n))
        return losses.nll_loss, x, t, kw
    if name == "nll_nd":
        x = rng.standard_normal((n, 4, 3, 2))
        t = _index_target(rng, 4, (n, 3, 2), -100)
        kw = dict(weight=_class_weight(rng, 4), sample_weight=_sw(rng, n))
        return losses.nll_loss, x, t, kw
    if name == "bce":
        x = 3 * rng.standard_normal((n, C))
        y = rng.uniform(0, 1, (n, C))
        y[:, 0] = rng.integers(0, 2, n)
        kw = dict(weight=rng.uniform(0, 2, C), pos_weight=rng.uniform(0.2, 4, C))
        return losses.binary_cross_entropy_with_logits, x, y, kw
    if name == "bce_full_weight":
        x = 3 * rng.standard_normal((n, 3, 2))
        y = rng.uniform(0, 1, (n, 3, 2))
        kw = dict(weight=rng.uniform(0, 2, (n, 3, 2)), pos_weight=rng.uniform(0.2, 4, 2))
        return losses.binary_cross_entropy_with_logits, x, y, kw
    if name.startswith("mm_"):
        _, kind, p = name.split("_")
        crammer = kind == "cs"
        t = rng.integers(0, C, n)
        margin = 0.8
        x = _away_rows(rng, n, C, margin, t, crammer)
        kw = dict(p=int(p[1]), margin=margin, weight=_class_weight(rng, C),
                  sample_weight=_sw(rng, n),
                  kind="crammer_singer" if crammer else "weston_watkins")
        return losses.multi_margin_loss, x, t, kw
    if name in ("hinge", "hinge_sq"):
        margin = 0.9
        y = rng.choice([-1.0, 1.0], size=(n, 3))
        z = rng.choice([-1.0, 1.0], size=(n, 3)) * rng.uniform(0.05, 2.0, (n, 3))
        x = (margin - z) * y  # margin - y*x == z, never near the kink
        t = np.where(y > 0, 1.0, 0.0) if name == "hinge" else y  # 0/1 and +-1
        kw = dict(squared=name == "hinge_sq", margin=margin, sample_weight=_sw(rng, n))
        return losses.hinge_loss, x, t, kw
    if name == "mse":
        x = rng.standard_normal((n, 3))
        return losses.mse_loss, x, rng.standard_normal((n, 3)), dict(sample_weight=_sw(rng, n))
    if name == "mse_1d":
        return losses.mse_loss, rng.standard_normal(n), rng.standard_normal(n), {}
    if name == "huber":
        delta = 0.7
        t = rng.standard_normal((n, 3))
        u = np.where(rng.random((n, 3)) < 0.5, rng.uniform(0.1, 0.9, (n, 3)),
                     rng.uniform(1.1, 3.0, (n, 3)))
        x = t + rng.choice([-1.0, 1.0], size=(n, 3)) * delta * u
        return losses.huber_loss, x, t, dict(delta=delta, sample_weight=_sw(rng, n))
    raise KeyError(name)


LOSS_CASES = [
    "ce_plain", "ce_index", "ce_ignore3", "ce_prob", "ce_nd", "ce_prob_nd",
    "nll", "nll_nd", "bce", "bce_full_weight",
    "mm_ww_p1", "mm_ww_p2", "mm_cs_p1", "mm_cs_p2",
    "hinge", "hinge_sq", "mse", "mse_1d", "huber",
]


def cast(dtype, x, t, kw):
    """Float data in `dtype` (index targets stay integer)."""
    x = x.astype(dtype)
    if np.asarray(t).dtype.kind == "f":
        t = t.astype(dtype)
    kw = {k: (v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
          for k, v in kw.items()}
    return x, t, kw


def summed(loss):
    return float(np.sum(np.asarray(loss, dtype=np.float64)))


# --------------------------------------------------------------------------
# (a) finite differences
# --------------------------------------------------------------------------
def fd_grad(f, x, h=1e-6):
    g = np.empty_like(x)
    xw = x.copy()
    for idx in np.ndindex(x.shape):
        orig = xw[idx]
        xw[idx] = orig + h
        fp = f(xw)
        xw[idx] = orig - h
        fm = f(xw)
        xw[idx] = orig
        g[idx] = (fp - fm) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSS_CASES)
def test_gradient_finite_differences(name, reduction):
    rng = np.random.default_rng(100)
    fn, x, t, kw = build(name, rng, 6)
    loss, grad = fn(x, t, reduction=reduction, return_grad=True, **kw)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert np.isfinite(grad).all()
    num = fd_grad(lambda z: summed(fn(z, t, reduction=reduction, **kw)), x)
    assert np.abs(num).max() > 0
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-6 * np.abs(num).max())
    # the loss returned with the gradient is the loss returned without it
    np.testing.assert_allclose(summed(loss), summed(fn(x, t, reduction=reduction, **kw)),
                               rtol=1e-14)


@pytest.mark.parametrize("fname", ["cross_entropy", "nll_loss", "multi_margin_loss"])
def test_gradient_finite_differences_unbatched(fname):
    rng = np.random.default_rng(101)
    C = 5
    t = np.array(2)
    x = _away_rows(rng, 1, C, 1.0, [2], False)[0]
    fn = getattr(losses, fname)
    loss, grad = fn(x, t, return_grad=True)
    assert grad.shape == (C,)
    num = fd_grad(lambda z: summed(fn(z, t)), x)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-6 * np.abs(num).max())


# --------------------------------------------------------------------------
# Crammer-Singer against an independent numpy reference
# --------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2])
def test_crammer_singer_reference_is_self_consistent(p):
    rng = np.random.default_rng(102)
    t = rng.integers(0, 4, 7)
    x = _away_rows(rng, 7, 4, 0.6, t, True)
    w = rng.uniform(0.2, 2, 4)
    sw = _sw(rng, 7)
    for red in REDUCTIONS:
        _, g = crammer_singer_ref(x, t, p, 0.6, w, sw, red)
        num = fd_grad(lambda z: summed(crammer_singer_ref(z, t, p, 0.6, w, sw, red)[0]), x)
        np.testing.assert_allclose(g, num, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("opts", ["plain", "weight_sw"])
def test_crammer_singer_matches_numpy_reference(opts, p, dtype, reduction):
    rng = np.random.default_rng(103)
    n, C = 40, 6
    x = rng.standard_normal((n, C)).astype(dtype)
    t = rng.integers(0, C, n)
    w = sw = None
    if opts == "weight_sw":
        w = _class_weight(rng, C).astype(dtype)
        sw = _sw(rng, n).astype(dtype)
    margin = 1.2
    loss, grad = losses.multi_margin_loss(x, t, p=p, margin=margin, weight=w, sample_weight=sw,
                                          kind="crammer_singer", reduction=reduction,
                                          return_grad=True)
    ref_loss, ref_grad = crammer_singer_ref(x.astype(np.float64), t, p, margin, w, sw,
                                            reduction)
    assert (np.atleast_1d(ref_loss) > 0).any()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for ours, ref in [(loss, ref_loss), (grad, ref_grad)]:
        ref = np.asarray(ref)
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.abs(ref).max())
    assert grad.dtype == dtype
    if reduction == "none":
        assert loss.dtype == dtype and loss.shape == (n,)


# --------------------------------------------------------------------------
# (b) extreme values
# --------------------------------------------------------------------------
def stable_nlp_p(x):
    """-log softmax and softmax along axis 1 in float64, computed from the
    shifted logits s = x - max so that ties at a huge maximum keep their
    log(k) (logsumexp(x) - x would round it away next to 1e300)."""
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    s = x - m
    e = np.exp(s)
    tot = e.sum(axis=1, keepdims=True)
    # entries with x_c = -inf get -log p_c = +inf (used only with weight 0)
    return np.log(tot) - s, e / tot


def ce_index_ref(x, t, weight=None, ls=0.0, reduction="mean"):
    """float64 cross-entropy (no ignored targets) and its gradient."""
    x = np.asarray(x, dtype=np.float64)
    n, C = x.shape
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    nlp, p = stable_nlp_p(x)
    rows = np.arange(n)
    per = (1 - ls) * w[t] * nlp[rows, t]
    if ls:
        per = per + ls / C * (w * nlp).sum(axis=1)
    onehot = np.zeros((n, C))
    onehot[rows, t] = 1.0
    g = (1 - ls) * w[t][:, None] * (p - onehot)
    if ls:
        g = g + ls / C * (w.sum() * p - w)
    if reduction == "none":
        return per, g
    if reduction == "sum":
        return per.sum(), g
    d = w[t].sum()
    return per.sum() / d, g / d


def _rel_check(ours, ref, rtol, what):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, what
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.abs(ref).max(),
                               err_msg=what)


def extreme_logits(dtype, log_safe=True):
    """Rows of huge logits.  In float32 the spread of a row stays below 3.4e38
    (when log_safe) so that every -log p is representable."""
    rng = np.random.default_rng(104)
    if dtype == np.float64:
        big = 1e300
        rows = [[big, -big, 0.0, 5e299, -3.0], [-big, -big, -big, -0.5 * big, -big],
                [big, big, big, big, big], [1e-300, -1e-300, 0.0, 2.0, big]]
        rows += list(rng.uniform(-big, big, (6, 5)))
    else:
        big = 3e38
        if log_safe:
            rows = [[big, 1e38, 0.0, 2e38, big], [-big, -2.9e38, -1e38, -big, 0.0],
                    [1.5e38, -1.5e38, 0.0, 1e38, -3.0], [big, big, big, big, big]]
            rows += list(rng.uniform(-1.6e38, 1.6e38, (6, 5)))
        else:
            rows = [[big, -big, 0.0, 1e38, -3.0], [-big, big, -big, big, 1.0]]
            rows += list(rng.uniform(-big, big, (8, 5)))
    return np.array(rows, dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits(dtype, weighted, reduction):
    x = extreme_logits(dtype)
    n, C = x.shape
    t = np.arange(n) % C
    # weights <= 1 keep every float32 per-sample loss below 3.4e38
    w = np.linspace(0.25, 1.0, C).astype(dtype) if weighted else None
    loss, grad = losses.cross_entropy(x, t, weight=w, reduction=reduction, return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    ref_loss, ref_grad = ce_index_ref(x, t, w, 0.0, reduction)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    _rel_check(loss, ref_loss, rtol, "loss")
    _rel_check(grad, ref_grad, rtol, "grad")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits_label_smoothing(dtype, reduction):
    """The smoothing term sums -log p over all classes: must not overflow."""
    x = extreme_logits(dtype)
    n, C = x.shape
    t = np.arange(n) % C
    w = np.linspace(0.5, 1.0, C).astype(dtype)
    loss, grad = losses.cross_entropy(x, t, weight=w, label_smoothing=0.1,
                                      reduction=reduction, return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    ref_loss, ref_grad = ce_index_ref(x, t, w, 0.1, reduction)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    _rel_check(loss, ref_loss, rtol, "loss")
    _rel_check(grad, ref_grad, rtol, "grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_prob_targets(dtype):
    x = extreme_logits(dtype)
    rng = np.random.default_rng(105)
    y = rng.dirichlet(np.ones(5), size=x.shape[0]).astype(dtype)
    loss, grad = losses.cross_entropy(x, y, reduction="sum", return_grad=True)
    nlp, p = stable_nlp_p(x)
    yd = y.astype(np.float64)
    ref_loss = (yd * nlp).sum()
    ref_grad = yd.sum(axis=1, keepdims=True) * p - yd
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.isfinite(loss) and np.isfinite(grad).all()
    _rel_check(loss, ref_loss, rtol, "loss")
    _rel_check(grad, ref_grad, rtol, "grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_matches_torch_where_finite(dtype):
    torch = pytest.importorskip("torch")
    x = extreme_logits(dtype)
    t = np.arange(x.shape[0]) % x.shape[1]
    for ls in [0.0, 0.1]:
        # torch in float64 on the same values (torch's own float32 kernels overflow
        # to inf on most of these rows)
        xt = torch.tensor(x.astype(np.float64), requires_grad=True)
        ref = torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction="none",
                                                label_smoothing=ls)
        (g,) = torch.autograd.grad(ref.sum(), xt)
        ref, g = ref.detach().numpy(), g.numpy()
        loss, grad = losses.cross_entropy(x, t, reduction="none", label_smoothing=ls,
                                          return_grad=True)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        ok = np.isfinite(ref)
        assert ok.sum() >= 8
        np.testing.assert_allclose(loss[ok], ref[ok], rtol=rtol,
                                   atol=rtol * np.abs(ref[ok]).max())
        okg = np.isfinite(g).all(axis=1)
        np.testing.assert_allclose(grad[okg], g[okg], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_logits(dtype, log):
    x = extreme_logits(dtype, log_safe=log)
    nlp, p = stable_nlp_p(x)
    fn = losses.log_softmax if log else losses.softmax
    out = fn(x)
    assert out.dtype == dtype and np.isfinite(out).all()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    if log:
        _rel_check(out, -nlp, rtol, "log_softmax")
        # along axis 0 as well
        _rel_check(fn(x.T, dim=0), -nlp.T, rtol, "log_softmax dim=0")
    else:
        ref = p
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(out.sum(axis=1, dtype=np.float64), 1.0, rtol=10 * rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_full_range_float32_spread_is_finite(dtype):
    """softmax never overflows, whatever the spread of the row."""
    x = extreme_logits(dtype, log_safe=False)
    out = losses.softmax(x)
    assert np.isfinite(out).all() and (out >= 0).all()
    ref = stable_nlp_p(x)[1]
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)


def bce_ref(x, y, weight=None, pos_weight=None, reduction="mean"):
    """Stable float64 BCE-with-logits: loss and gradient of the reduced loss."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight, np.float64)
    lw = 1.0 + (pw - 1.0) * y
    softplus_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0.0)  # log(1+e^-x)
    per = (1.0 - y) * x + lw * softplus_neg
    g = (1.0 - y) - lw * expit(-x)
    if weight is not None:
        per = per * np.asarray(weight, np.float64)
        g = g * np.asarray(weight, np.float64)
    g = np.broadcast_to(g, x.shape)
    if reduction == "none":
        return per, g
    if reduction == "sum":
        return per.sum(), g
    return per.mean(), g / x.size


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_extreme(dtype, reduction):
    big = 1e300 if dtype == np.float64 else 3e38
    vals = np.array([big, -big, big / 3, -big / 3, 1e10, -1e10, 40.0, -40.0, 0.0, 1e-30])
    x = np.repeat(vals, 4).reshape(-1, 4).astype(dtype)  # (10, 4)
    y = np.tile(np.array([0.0, 1.0, 0.5, 0.3]), (len(vals), 1)).astype(dtype)
    w = np.array([1.0, 0.5, 0.25, 0.75], dtype=dtype)
    # float32: pos_weight <= 1 keeps every per-element loss <= |x| < 3.4e38
    pw = np.array([2.0, 3.0, 0.5, 1.5] if dtype == np.float64 else [0.5, 1.0, 0.25, 0.8],
                  dtype=dtype)
    for kw in [{}, dict(weight=w), dict(pos_weight=pw), dict(weight=w, pos_weight=pw)]:
        loss, grad = losses.binary_cross_entropy_with_logits(x, y, reduction=reduction,
                                                             return_grad=True, **kw)
        assert np.isfinite(loss).all() and np.isfinite(grad).all(), kw
        ref_loss, ref_grad = bce_ref(x, y, reduction=reduction, **kw)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        _rel_check(loss, ref_loss, rtol, f"loss {kw}")
        np.testing.assert_allclose(grad, ref_grad, rtol=rtol,
                                   atol=rtol * np.abs(ref_grad).max(), err_msg=f"grad {kw}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_extreme_matches_torch_where_finite(dtype):
    torch = pytest.importorskip("torch")
    big = 1e300 if dtype == np.float64 else 3e38
    x = np.array([[big, -big, 1e10, -1e10, 0.0], [-big, big, 30.0, -30.0, 1.0]], dtype=dtype)
    y = np.array([[0.0, 1.0, 0.5, 0.2, 1.0], [0.0, 1.0, 0.0, 1.0, 0.5]], dtype=dtype)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(y),
                                                               reduction="none")
    (g,) = torch.autograd.grad(ref.sum(), xt)
    loss, grad = losses.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                         return_grad=True)
    ref, g = ref.detach().numpy(), g.numpy()
    ok = np.isfinite(ref)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(loss[ok], ref[ok], rtol=rtol, atol=rtol * np.abs(ref[ok]).max())
    ok = np.isfinite(g)
    np.testing.assert_allclose(grad[ok], g[ok], rtol=rtol, atol=rtol)


def neg_inf_logits(dtype):
    rng = np.random.default_rng(106)
    x = rng.standard_normal((8, 5))
    t = np.array([0, 1, 2, 3, 4, 0, 1, -100])
    x[0, 1:] = -np.inf  # only the target is finite: p_target = 1
    x[1, [0, 2]] = -np.inf
    x[2, 4] = -np.inf
    x[3, [0, 1, 2]] = -np.inf
    x[5, 3] = -np.inf
    x[7, [0, 2, 3]] = -np.inf  # an ignored row may hold -inf too
    return x.astype(dtype), t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_neg_inf_non_target_logits(dtype, weighted, reduction):
    x, t = neg_inf_logits(dtype)
    w = np.linspace(0.5, 2.0, 5).astype(dtype) if weighted else None
    loss, grad = losses.cross_entropy(x, t, weight=w, reduction=reduction, return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    assert (grad[np.isneginf(x)] == 0).all()
    assert (grad[7] == 0).all()
    keep = t != -100
    ref_loss, ref_grad = ce_index_ref(x[keep], t[keep], w, 0.0, reduction)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    if reduction == "none":
        assert loss[7] == 0
        loss = loss[keep]
    _rel_check(loss, ref_loss, rtol, "loss")
    _rel_check(grad[keep], ref_grad, rtol, "grad")
    # a row whose only finite logit is the target has loss 0 and gradient 0
    if reduction == "none":
        assert loss[0] == 0
    assert (grad[0] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_neg_inf_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    x, t = neg_inf_logits(dtype)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    (g,) = torch.autograd.grad(ref, xt)
    loss, grad = losses.cross_entropy(x, t, return_grad=True)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.isfinite(ref.item())
    np.testing.assert_allclose(loss, ref.item(), rtol=rtol)
    np.testing.assert_allclose(grad, g.numpy(), rtol=rtol, atol=rtol * np.abs(g.numpy()).max())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_loss_neg_inf_non_target(dtype, reduction):
    x, t = neg_inf_logits(dtype)
    x = x.astype(np.float64)
    x = (x - logsumexp(x, axis=1, keepdims=True)).astype(dtype)  # -inf stays -inf
    loss, grad = losses.nll_loss(x, t, reduction=reduction, return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    keep = t != -100
    rows = np.arange(8)[keep]
    per = -x[rows, t[keep]].astype(np.float64)
    g = np.zeros((8, 5))
    g[rows, t[keep]] = -1.0
    if reduction == "mean":
        ref, g = per.sum() / keep.sum(), g / keep.sum()
    elif reduction == "sum":
        ref = per.sum()
    else:
        ref = np.zeros(8)
        ref[keep] = per
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    _rel_check(loss, ref, rtol, "loss")
    np.testing.assert_allclose(grad, g, rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_with_neg_inf_entries(dtype):
    x, _ = neg_inf_logits(dtype)
    s = losses.softmax(x)
    ls = losses.log_softmax(x)
    assert not np.isnan(s).any() and not np.isnan(ls).any()
    assert (s[np.isneginf(x)] == 0).all()
    assert np.isneginf(ls[np.isneginf(x)]).all()
    assert np.isfinite(ls[np.isfinite(x)]).all()
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(s.sum(axis=1, dtype=np.float64), 1.0, rtol=tol)
    assert s[0, 0] == 1 and ls[0, 0] == 0
    xd = x.astype(np.float64)
    ref = xd - logsumexp(xd, axis=1, keepdims=True)
    fin = np.isfinite(ref)
    np.testing.assert_allclose(ls[fin], ref[fin], rtol=tol, atol=tol)


# --------------------------------------------------------------------------
# (c) thread-count invariance (bitwise)
# --------------------------------------------------------------------------
THREAD_N = {"ce_nd": 2000, "ce_prob_nd": 4000, "nll_nd": 2000, "bce_full_weight": 8000}


@pytest.fixture(scope="module")
def thread_data():
    cache = {}

    def get(name, dtype):
        key = (name, dtype)
        if key not in cache:
            rng = np.random.default_rng(200)
            n = THREAD_N.get(name, 20_000)
            fn, x, t, kw = build(name, rng, n) if not name.startswith("mm_") else \
                _big_mm(name, rng, n)
            cache[key] = (fn,) + cast(dtype, x, t, kw)
        return cache[key]

    return get


def _big_mm(name, rng, n):
    _, kind, p = name.split("_")
    C = 7
    return losses.multi_margin_loss, rng.standard_normal((n, C)), rng.integers(0, C, n), dict(
        p=int(p[1]), margin=0.9, weight=_class_weight(rng, C), sample_weight=_sw(rng, n),
        kind="crammer_singer" if kind == "cs" else "weston_watkins")


def _same(a, b):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        assert np.array_equal(a, b), "arrays differ"
    else:
        assert a == b, f"{a!r} != {b!r}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSS_CASES)
def test_thread_count_invariance(thread_data, name, reduction, dtype):
    fn, x, t, kw = thread_data(name, dtype)
    ref_loss, ref_grad = fn(x, t, reduction=reduction, return_grad=True, n_threads=1, **kw)
    ref_only = fn(x, t, reduction=reduction, n_threads=1, **kw)
    for nt in [2, 3, None]:
        loss, grad = fn(x, t, reduction=reduction, return_grad=True, n_threads=nt, **kw)
        _same(loss, ref_loss)
        _same(grad, ref_grad)
        _same(fn(x, t, reduction=reduction, n_threads=nt, **kw), ref_only)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_thread_count_invariance(log, dim, dtype):
    rng = np.random.default_rng(201)
    x = (3 * rng.standard_normal((20_000, 7))).astype(dtype)
    if dim == 0:
        x = np.ascontiguousarray(x.T)
    fn = losses.log_softmax if log else losses.softmax
    ref = fn(x, dim, n_threads=1)
    for nt in [2, 3, None]:
        _same(fn(x, dim, n_threads=nt), ref)


# --------------------------------------------------------------------------
# (d) memory layouts
# --------------------------------------------------------------------------
def _embed(a, axis, step, fill):
    """A non-contiguous view equal to `a`, every `step`-th element along `axis`
    of a larger array whose other entries hold `fill`."""
    shape = list(a.shape)
    shape[axis] = shape[axis] * step
    base = np.full(shape, fill, dtype=a.dtype)
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(None, None, step)
    base[tuple(idx)] = a
    v = base[tuple(idx)]
    assert not v.flags.c_contiguous
    return v


def _fill_for(a):
    return np.nan if a.dtype.kind == "f" else 10**9


def _variant(kind, x, t, kw):
    """(x, t, kw) in memory layout `kind`; equal values."""
    n = x.shape[0]
    if kind == "readonly":
        x, t = x.copy(), np.array(t)
        kw = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        for a in [x, t] + [v for v in kw.values() if isinstance(v, np.ndarray)]:
            a.setflags(write=False)
        return x, t, kw
    if kind == "fortran":
        t = np.asfortranarray(t) if np.ndim(t) >= 2 else t
        kw = {k: (np.asfortranarray(v) if isinstance(v, np.ndarray) and v.ndim >= 2 else v)
              for k, v in kw.items()}
        return np.asfortranarray(x), t, kw
    if kind == "rows":  # x[::3] and per-sample arrays likewise
        def emb(a):
            if isinstance(a, np.ndarray) and a.ndim >= 1 and a.shape[0] == n:
                return _embed(a, 0, 3, _fill_for(a))
            return a
        return emb(x), emb(t), {k: emb(v) for k, v in kw.items()}
    if kind == "cols":  # x[:, ::2] and same-shaped arrays likewise
        def emb(a):
            if isinstance(a, np.ndarray) and a.shape == x.shape:
                return _embed(a, 1, 2, _fill_for(a))
            return a
        return emb(x), emb(t), {k: emb(v) for k, v in kw.items()}
    if kind == "aux_strided":  # every 1-d auxiliary array is strided
        def emb(a):
            if isinstance(a, np.ndarray) and a.ndim == 1 and a.shape[0] > 1:
                return _embed(a, 0, 2, _fill_for(a))
            return a
        return x, emb(t) if np.ndim(t) == 1 else t, {k: emb(v) for k, v in kw.items()}
    raise KeyError(kind)


def _close(ours, ref, dtype, what):
    if isinstance(ref, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.dtype == ref.dtype, what
        assert ours.shape == ref.shape, what
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    ref = np.asarray(ref, np.float64)
    np.testing.assert_allclose(np.asarray(ours, np.float64), ref, rtol=rtol,
                               atol=rtol * np.abs(ref).max(), err_msg=what)


@pytest.mark.parametrize("kind", ["readonly", "fortran", "rows", "cols", "aux_strided"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", LOSS_CASES)
def test_memory_layouts(name, dtype, kind):
    rng = np.random.default_rng(300)
    fn, x, t, kw = build(name, rng, 40)
    x, t, kw = cast(dtype, x, t, kw)
    if kind == "fortran" and x.ndim < 2:
        pytest.skip("1-d input has a single layout")
    if kind == "cols" and x.ndim < 2:
        pytest.skip("1-d input has no column axis")
    x2, t2, kw2 = _variant(kind, x, t, kw)
    for reduction in REDUCTIONS:
        ref_loss, ref_grad = fn(x, t, reduction=reduction, return_grad=True, **kw)
        loss, grad = fn(x2, t2, reduction=reduction, return_grad=True, **kw2)
        assert grad.dtype == dtype and grad.shape == x.shape
        assert np.isfinite(grad).all() and np.isfinite(loss).all()
        _close(loss, ref_loss, dtype, f"loss {reduction}")
        _close(grad, ref_grad, dtype, f"grad {reduction}")
        _close(fn(x2, t2, reduction=reduction, **kw2), ref_loss, dtype, "loss w/o grad")
    if kind == "readonly":
        assert not x2.flags.writeable  # untouched


@pytest.mark.parametrize("kind", ["readonly", "fortran", "rows", "cols"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_memory_layouts(log, dtype, kind):
    rng = np.random.default_rng(301)
    x = (2 * rng.standard_normal((40, 6))).astype(dtype)
    fn = losses.log_softmax if log else losses.softmax
    x2, _, _ = _variant(kind, x, np.zeros(0), {})
    for dim in [-1, 0]:
        ref = fn(x, dim)
        out = fn(x2, dim)
        assert out.dtype == dtype and out.shape == x.shape
        _close(out, ref, dtype, f"dim={dim}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_nd_layout_non_contiguous_positions(dtype):
    """(n, C, d1, d2) input sliced along a position axis."""
    rng = np.random.default_rng(302)
    x = rng.standard_normal((6, 4, 5, 6)).astype(dtype)
    t = rng.integers(0, 4, (6, 5, 6))
    xs, ts = x[..., ::2], t[..., ::2]
    for kw in [{}, dict(label_smoothing=0.1, weight=np.arange(1.0, 5.0))]:
        ref = losses.cross_entropy(np.ascontiguousarray(xs), np.ascontiguousarray(ts),
                                   reduction="none", return_grad=True, **kw)
        out = losses.cross_entropy(xs, ts, reduction="none", return_grad=True, **kw)
        _close(out[0], ref[0], dtype, "loss")
        _close(out[1], ref[1], dtype, "grad")
        assert out[1].shape == xs.shape


# --------------------------------------------------------------------------
# (e) softmax identities
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((50, 7), -1), ((50, 7), 0), ((4, 6, 5), 1),
                                       ((4, 6, 5), 2), ((9,), 0)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_softmax_identities(shape, dim, dtype, scale):
    rng = np.random.default_rng(400)
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    s = losses.softmax(x, dim)
    ls = losses.log_softmax(x, dim)
    assert s.dtype == dtype and ls.dtype == dtype
    assert (s >= 0).all() and (s <= 1).all() and (ls <= 0).all()
    tol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(s.sum(axis=dim, dtype=np.float64), 1.0, rtol=0, atol=10 * tol)
    fin = s > 1e3 * np.finfo(dtype).tiny
    assert fin.any()
    np.testing.assert_allclose(ls[fin], np.log(s[fin]), rtol=10 * tol, atol=10 * tol)
    # invariant to a constant shift of the row (up to the rounding of x + 3)
    shift_tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(losses.softmax(x + dtype(3.0), dim), s, rtol=0, atol=shift_tol)
    # cross-entropy is -log_softmax at the target
    if len(shape) == 2 and dim == -1:
        t = rng.integers(0, shape[1], shape[0])
        per = losses.cross_entropy(x, t, reduction="none")
        np.testing.assert_allclose(per, -ls[np.arange(shape[0]), t], rtol=10 * tol,
                                   atol=10 * tol * np.abs(ls).max())
        nll = losses.nll_loss(ls, t, reduction="none")
        np.testing.assert_allclose(nll, per, rtol=10 * tol, atol=10 * tol * np.abs(per).max())


# --------------------------------------------------------------------------
# dtypes and return types
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", LOSS_CASES)
def test_float32_in_float32_out(name):
    rng = np.random.default_rng(500)
    fn, x, t, kw = build(name, rng, 9)
    x32, t32, kw32 = cast(np.float32, x, t, kw)
    per, grad = fn(x32, t32, reduction="none", return_grad=True, **kw32)
    assert per.dtype == np.float32 and grad.dtype == np.float32
    loss = fn(x32, t32, **kw32)
    assert isinstance(loss, float)
    # float32 results are close to float64 results on the same (float32) values
    x64, t64, kw64 = cast(np.float64, x32, t32, kw32)
    per64, grad64 = fn(x64, t64, reduction="none", return_grad=True, **kw64)
    np.testing.assert_allclose(per, per64, rtol=1e-5, atol=1e-5 * np.abs(per64).max())
    np.testing.assert_allclose(grad, grad64, rtol=1e-5, atol=1e-5 * np.abs(grad64).max())


@pytest.mark.parametrize("name", LOSS_CASES)
def test_empty_batch(name):
    """n = 0: 'mean' is 0/0 = nan (as in torch), 'sum' is 0, 'none' is empty."""
    rng = np.random.default_rng(501)
    fn, x, t, kw = build(name, rng, 3)
    kw = {k: (v[:0] if k == "sample_weight" or (isinstance(v, np.ndarray) and v.shape[:1] ==
                                                   x.shape[:1] and v.ndim == x.ndim) else v)
          for k, v in kw.items()}
    x, t = x[:0], t[:0]
    mean, g = fn(x, t, reduction="mean", return_grad=True, **kw)
    assert np.isnan(mean) and g.shape == x.shape
    total, g = fn(x, t, reduction="sum", return_grad=True, **kw)
    assert total == 0.0 and g.shape == x.shape
    per, g = fn(x, t, reduction="none", return_grad=True, **kw)
    assert per.size == 0 and per.shape[:1] == (0,) and g.shape == x.shape


# --------------------------------------------------------------------------
# (f) errors name the offending argument
# --------------------------------------------------------------------------
def _err_cases():
    rng = np.random.default_rng(600)
    X = rng.standard_normal((6, 4))
    Xi = np.arange(24).reshape(6, 4)  # integer logits
    t = np.array([0, 1, 2, 3, 0, 1])
    P = np.full((6, 4), 0.25)
    Pnan = P.copy()
    Pnan[2, 1] = np.nan
    Pinf = P.copy()
    Pinf[0, 0] = np.inf
    X4 = rng.standard_normal((3, 4, 2, 2))
    Y = rng.uniform(0, 1, (6, 4))
    Ynan = Y.copy()
    Ynan[1, 1] = np.nan
    Yinf = Y.copy()
    Yinf[1, 1] = -np.inf
    Ypm = np.where(Y > 0.5, 1.0, -1.0)
    ce, nll, bce = losses.cross_entropy, losses.nll_loss, losses.binary_cross_entropy_with_logits
    mm, hinge, mse, huber = (losses.multi_margin_loss, losses.hinge_loss, losses.mse_loss,
                             losses.huber_loss)
    VT = (ValueError, TypeError)
    cases = {
        # cross_entropy
        "ce_target_shape": (lambda: ce(X, t[:5]), VT, "target"),
        "ce_target_too_large": (lambda: ce(X, np.array([0, 1, 4, 0, 0, 0])), VT, "target"),
        "ce_target_negative": (lambda: ce(X, np.array([0, 1, -1, 0, 0, 0])), VT, "target"),
        "ce_target_-100_not_ignored": (
            lambda: ce(X, np.array([0, -100, 1, 0, 0, 0]), ignore_index=3), VT, "target"),
        "ce_prob_target_nan": (lambda: ce(X, Pnan), VT, "target"),
        "ce_prob_target_inf": (lambda: ce(X, Pinf), VT, "target"),
        "ce_prob_target_shape": (lambda: ce(X, P[:, :3]), VT, "target"),
        "ce_prob_target_ignore_index": (lambda: ce(X, P, ignore_index=0), VT, "ignore_index"),
        "ce_int_input": (lambda: ce(Xi, t), TypeError, "input"),
        "ce_int_input_prob": (lambda: ce(Xi, P), TypeError, "input"),
        "ce_weight_negative": (lambda: ce(X, t, weight=np.array([1, -1.0, 1, 1])), VT, "weight"),
        "ce_weight_shape": (lambda: ce(X, t, weight=np.ones(3)), VT, "weight"),
        "ce_weight_nan": (lambda: ce(X, t, weight=np.array([1, np.nan, 1, 1])), VT, "weight"),
        "ce_sample_weight_negative": (
            lambda: ce(X, t, sample_weight=np.array([1, 1, -0.5, 1, 1, 1])), VT,
            "sample_weight"),
        "ce_sample_weight_shape": (lambda: ce(X, t, sample_weight=np.ones(5)), VT,
                                   "sample_weight"),
        "ce_sample_weight_nan": (
            lambda: ce(X, t, sample_weight=np.array([1, 1, np.nan, 1, 1, 1])), VT,
            "sample_weight"),
        "ce_prob_sample_weight_negative": (
            lambda: ce(X, P, sample_weight=-np.ones(6)), VT, "sample_weight"),
        "ce_reduction": (lambda: ce(X, t, reduction="avg"), VT, "reduction"),
        "ce_label_smoothing_big": (lambda: ce(X, t, label_smoothing=1.5), VT,
                                   "label_smoothing"),
        "ce_label_smoothing_neg": (lambda: ce(X, t, label_smoothing=-0.1), VT,
                                   "label_smoothing"),
        "ce_nd_target_shape": (lambda: ce(X4, np.zeros((3, 2), dtype=int)), VT, "target"),
        "ce_nd_target_range": (lambda: ce(X4, np.full((3, 2, 2), 4)), VT, "target"),
        # nll_loss
        "nll_target_shape": (lambda: nll(X, t[:4]), VT, "target"),
        "nll_target_range": (lambda: nll(X, np.array([0, 1, 2, 3, 4, 0])), VT, "target"),
        "nll_int_input": (lambda: nll(Xi, t), TypeError, "input"),
        "nll_weight_negative": (lambda: nll(X, t, weight=-np.ones(4)), VT, "weight"),
        "nll_sample_weight_negative": (lambda: nll(X, t, sample_weight=-np.ones(6)), VT,
                                       "sample_weight"),
        "nll_reduction": (lambda: nll(X, t, reduction="mena"), VT, "reduction"),
        # softmax
        "softmax_int_input": (lambda: losses.softmax(Xi), TypeError, "input"),
        "log_softmax_int_input": (lambda: losses.log_softmax(Xi), TypeError, "input"),
        "softmax_dim": (lambda: losses.softmax(X, 2), VT, "dim"),
        "log_softmax_dim": (lambda: losses.log_softmax(X, dim=-3), VT, "dim"),
        # binary_cross_entropy_with_logits
        "bce_target_shape": (lambda: bce(X, Y[:, :3]), VT, "target"),
        "bce_target_nan": (lambda: bce(X, Ynan), VT, "target"),
        "bce_target_inf": (lambda: bce(X, Yinf), VT, "target"),
        "bce_int_input": (lambda: bce(Xi, Y), TypeError, "input"),
        "bce_weight_negative": (lambda: bce(X, Y, weight=np.array([1, 1, -1.0, 1])), VT,
                                "weight"),
        "bce_weight_shape": (lambda: bce(X, Y, weight=np.ones(3)), VT, "weight"),
        "bce_pos_weight_shape": (lambda: bce(X, Y, pos_weight=np.ones(3)), VT, "pos_weight"),
        "bce_reduction": (lambda: bce(X, Y, reduction="none "), VT, "reduction"),
        # multi_margin_loss
        "mm_kind": (lambda: mm(X, t, kind="hinge"), VT, "kind"),
        "mm_p": (lambda: mm(X, t, p=3), VT, r"\bp\b"),
        "mm_target_range": (lambda: mm(X, np.array([0, 1, 2, 3, 4, 0])), VT, "target"),
        "mm_target_negative": (lambda: mm(X, np.array([0, 1, 2, 3, -1, 0])), VT, "target"),
        "mm_cs_target_range": (lambda: mm(X, np.array([0, 1, 2, 3, 4, 0]),
                                          kind="crammer_singer"), VT, "target"),
        "mm_target_shape": (lambda: mm(X, t[:5]), VT, "target"),
        "mm_int_input": (lambda: mm(Xi, t), TypeError, "input"),
        "mm_weight_negative": (lambda: mm(X, t, weight=np.array([1, 1, 1, -2.0])), VT,
                               "weight"),
        "mm_sample_weight_negative": (lambda: mm(X, t, sample_weight=-np.ones(6)), VT,
                                      "sample_weight"),
        "mm_reduction": (lambda: mm(X, t, reduction="max"), VT, "reduction"),
        # hinge_loss
        "hinge_target_shape": (lambda: hinge(X, Ypm[:5]), VT, "target"),
        "hinge_target_nan": (lambda: hinge(X, np.where(np.isnan(Ynan), np.nan, Ypm)), VT,
                             "target"),
        "hinge_target_value": (lambda: hinge(X, np.where(Ypm > 0, 2.0, -1.0)), VT, "target"),
        "hinge_int_input": (lambda: hinge(Xi, Ypm), TypeError, "input"),
        "hinge_sample_weight_negative": (lambda: hinge(X, Ypm, sample_weight=-np.ones(6)), VT,
                                         "sample_weight"),
        "hinge_sample_weight_shape": (lambda: hinge(X, Ypm, sample_weight=np.ones(4)), VT,
                                      "sample_weight"),
        "hinge_reduction": (lambda: hinge(X, Ypm, reduction="avg"), VT, "reduction"),
        # mse_loss / huber_loss
        "mse_target_shape": (lambda: mse(X, Y[:5]), VT, "target"),
        "mse_target_nan": (lambda: mse(X, Ynan), VT, "target"),
        "mse_target_inf": (lambda: mse(X, Yinf), VT, "target"),
        "mse_int_input": (lambda: mse(Xi, Y), TypeError, "input"),
        "mse_sample_weight_negative": (lambda: mse(X, Y, sample_weight=-np.ones(6)), VT,
                                       "sample_weight"),
        "mse_reduction": (lambda: mse(X, Y, reduction="mean_"), VT, "reduction"),
        "huber_target_shape": (lambda: huber(X, Y.T), VT, "target"),
        "huber_target_nan": (lambda: huber(X, Ynan), VT, "target"),
        "huber_int_input": (lambda: huber(Xi, Y), TypeError, "input"),
        "huber_delta_zero": (lambda: huber(X, Y, delta=0.0), VT, "delta"),
        "huber_delta_negative": (lambda: huber(X, Y, delta=-1.0), VT, "delta"),
        "huber_sample_weight_negative": (lambda: huber(X, Y, sample_weight=-np.ones(6)), VT,
                                         "sample_weight"),
        "huber_reduction": (lambda: huber(X, Y, reduction="SUM"), VT, "reduction"),
    }
    return cases


ERR_CASES = _err_cases()


@pytest.mark.parametrize("case", list(ERR_CASES))
def test_bad_input_raises_naming_the_argument(case):
    call, exc, match = ERR_CASES[case]
    with pytest.raises(exc, match=match):
        call()


def test_valid_edge_inputs_do_not_raise():
    """Guards for the error tests: the same data with valid values is accepted."""
    rng = np.random.default_rng(601)
    X = rng.standard_normal((6, 4))
    t = np.array([0, 1, 2, 3, -100, 3])
    assert np.isfinite(losses.cross_entropy(X, t))
    assert np.isfinite(losses.cross_entropy(X, np.where(t == -100, 3, t), ignore_index=3))
    assert np.isfinite(losses.cross_entropy(X, t, weight=np.zeros(4) + 1, label_smoothing=1.0))
    assert np.isfinite(losses.multi_margin_loss(X, np.abs(t) % 4, p=2))
    y01 = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    assert np.isfinite(losses.hinge_loss(X[:, 0], y01))
    assert np.isfinite(losses.huber_loss(X, X + 1, delta=1e-3))
