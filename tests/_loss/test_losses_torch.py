"""Oracle tests: skce.losses against torch.nn.functional and torch autograd.

Every loss is compared, for float32 and float64 input and for each reduction,
with a float64 torch reference computed from the same data: the loss and the
gradient (of the reduced loss; for reduction="none" of the summed per-element
losses).  float64 must agree to rtol 1e-12, float32 to rtol 1e-5 (relative to
the scale of the reference array).

``sample_weight`` (an skce extension) is checked against torch's
reduction="none" output multiplied by the sample weights, summed, and divided
by the documented divisor; with ``sample_weight=ones`` the result must equal
plain torch.

Functions without a torch counterpart (hinge_loss, multi_margin_loss with
kind="crammer_singer") are checked against torch autograd expressions written
here, which are themselves checked against numpy formulas first.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _checks import crammer_singer_ref  # noqa: E402
from skce import losses  # noqa: E402

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def T(a):
    """numpy -> torch, float64 for floats, int64 for integers."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return torch.tensor(a.astype(np.float64))
    return torch.tensor(a.astype(np.int64))


def assert_close(ours, ref, dtype, what):
    rtol = RTOL[np.dtype(dtype)]
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != reference {ref.shape}"
    assert np.isfinite(ref).all(), f"{what}: the reference itself is not finite"
    scale = float(np.abs(ref).max(initial=0.0))
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale, err_msg=what)


def check_loss_type(loss, reduction, dtype, shape):
    if reduction == "none":
        assert isinstance(loss, np.ndarray), type(loss)
        assert loss.dtype == np.dtype(dtype), loss.dtype
        assert loss.shape == shape, (loss.shape, shape)
    else:
        assert isinstance(loss, float), type(loss)


def compare(fn, x, target, kwargs, reduction, ref):
    """Run fn with and without return_grad and compare with ref(xt, reduction).

    ref gets a float64 leaf tensor and returns the loss tensor reduced as ours.
    """
    dtype = x.dtype
    loss = fn(x, target, reduction=reduction, **kwargs)
    out = fn(x, target, reduction=reduction, return_grad=True, **kwargs)
    assert isinstance(out, tuple) and len(out) == 2
    loss_g, grad = out

    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref_loss = ref(xt, reduction)
    (ref_grad,) = torch.autograd.grad(ref_loss.sum(), xt)
    ref_loss = ref_loss.detach().numpy()

    check_loss_type(loss, reduction, dtype, ref_loss.shape)
    check_loss_type(loss_g, reduction, dtype, ref_loss.shape)
    assert isinstance(grad, np.ndarray)
    assert grad.dtype == dtype and grad.shape == x.shape, (grad.dtype, grad.shape)
    assert_close(loss, ref_loss, dtype, "loss")
    assert_close(loss_g, ref_loss, dtype, "loss (return_grad=True)")
    assert_close(grad, ref_grad.numpy(), dtype, "grad")


def weighted_ref(none_fn, sw, divisor):
    """Reference for sample_weight: torch's 'none' losses times sw, reduced."""
    sw = T(sw)

    def ref(xt, reduction):
        per = none_fn(xt)
        per = per * sw.reshape((-1,) + (1,) * (per.ndim - 1))
        if reduction == "none":
            return per
        if reduction == "sum":
            return per.sum()
        return per.sum() / divisor

    return ref


def pick_ref(direct, sw_kind, sw, divisor):
    """direct(xt, reduction) is plain torch; 'ones' must equal it exactly."""
    if sw_kind == "rand":
        return weighted_ref(lambda xt: direct(xt, "none"), sw, divisor)
    return direct


def make_sw(rng, n, kind, dtype):
    if kind is None:
        return None
    if kind == "ones":
        return np.ones(n, dtype=dtype)
    sw = rng.uniform(0.0, 2.0, n)
    sw[0] = 0.0
    sw[n // 2] = 0.0
    sw[-1] = 3.5
    return sw.astype(dtype)


def make_class_weight(rng, C, dtype):
    w = rng.uniform(0.2, 2.0, C)
    w[1] = 0.0  # a zero class weight is legal
    return w.astype(dtype)


def make_index_target(rng, C, row_shape, ignore_index=None, frac_ignored=0.2):
    if row_shape == ():
        return np.array(rng.integers(0, C))
    t = rng.integers(0, C, size=row_shape)
    if ignore_index is not None:
        mask = rng.random(row_shape) < frac_ignored
        mask.reshape(-1)[0] = True
        mask.reshape(-1)[1] = False
        t[mask] = ignore_index
    return t


def row_shape_of(shape):
    """torch's reduction='none' shape for (C,), (n, C) or (n, C, d...)."""
    if len(shape) == 1:
        return ()
    return (shape[0],) + tuple(shape[2:])


def sw_broadcast(sw, ndim):
    return np.asarray(sw, dtype=np.float64).reshape((-1,) + (1,) * (ndim - 1))


# --------------------------------------------------------------------------
# self-checks of the references written in this file
# --------------------------------------------------------------------------
def hinge_torch(xt, target, margin, squared):
    y = T(np.where(np.asarray(target) == 0, -1, target).astype(np.float64))
    z = torch.clamp(margin - y * xt, min=0)
    return z**2 if squared else z


def crammer_singer_torch(xt, target, p, margin, weight):
    """Per-sample Crammer-Singer loss, (n,) for (n, C) input or () for (C,)."""
    unbatched = xt.ndim == 1
    x2 = xt[None] if unbatched else xt
    y = T(np.atleast_1d(target))
    mask = F.one_hot(y, x2.shape[1]).bool()
    other = x2.masked_fill(mask, float("-inf")).max(dim=1).values
    own = x2.gather(1, y[:, None])[:, 0]
    z = torch.clamp(margin + other - own, min=0)
    loss = z**p
    if weight is not None:
        loss = loss * T(weight)[y]
    return loss[0] if unbatched else loss


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_reference_hinge_matches_numpy(squared, margin):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 3))
    t = rng.choice([-1.0, 1.0], size=x.shape)
    ref = hinge_torch(T(x), t, margin, squared).numpy()
    expected = np.maximum(0.0, margin - t * x) ** (2 if squared else 1)
    np.testing.assert_allclose(ref, expected, rtol=1e-15, atol=0)
    # 0/1 targets: 0 means -1
    t01 = (t > 0).astype(np.int64)
    np.testing.assert_allclose(hinge_torch(T(x), t01, margin, squared).numpy(), expected,
                               rtol=1e-15, atol=0)


@pytest.mark.parametrize("p", [1, 2])
def test_reference_crammer_singer_matches_numpy(p):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((30, 4))
    y = rng.integers(0, 4, 30)
    w = rng.uniform(0.1, 2, 4)
    ref = crammer_singer_torch(T(x), y, p, 0.7, w).numpy()
    np.testing.assert_allclose(ref, crammer_singer_ref(x, y, p, 0.7, w)[0], rtol=1e-15)
    assert (ref > 0).any() and (ref == 0).any()  # both branches exercised


def test_reference_sample_weight_ones_is_torch_mean():
    """The sample_weight oracle with sw=1 reproduces torch's own 'mean'."""
    rng = np.random.default_rng(3)
    n, C = 23, 5
    x = T(rng.standard_normal((n, C, 2)))
    t = make_index_target(rng, C, (n, 2), ignore_index=3)
    w = make_class_weight(rng, C, np.float64)
    ones = np.ones(n)
    mask = t != 3
    den = (sw_broadcast(ones, 2) * w[np.where(mask, t, 0)] * mask).sum()
    for ls in [0.0, 0.3]:
        def direct(xt, r):
            return F.cross_entropy(xt, T(t), weight=T(w), ignore_index=3, reduction=r,
                                   label_smoothing=ls)
        ref = weighted_ref(lambda xt: direct(xt, "none"), ones, den)
        assert torch.allclose(ref(x, "mean"), direct(x, "mean"), rtol=1e-14, atol=0)
    y = rng.dirichlet(np.ones(C), size=(n, 2)).transpose(0, 2, 1)

    def direct_p(xt, r):
        return F.cross_entropy(xt, T(y), weight=T(w), reduction=r, label_smoothing=0.2)
    ref = weighted_ref(lambda xt: direct_p(xt, "none"), ones, n * 2.0)
    assert torch.allclose(ref(x, "mean"), direct_p(x, "mean"), rtol=1e-14, atol=0)

    x2 = T(rng.standard_normal((n, C)))
    tt = rng.integers(0, C, n)

    def direct_m(xt, r):
        return F.multi_margin_loss(xt, T(tt), p=2, margin=0.8, weight=T(w), reduction=r)
    ref = weighted_ref(lambda xt: direct_m(xt, "none"), ones, float(n))
    assert torch.allclose(ref(x2, "mean"), direct_m(x2, "mean"), rtol=1e-14, atol=0)

    tgt = T(rng.standard_normal((n, C)))
    ref = weighted_ref(lambda xt: F.huber_loss(xt, tgt, reduction="none", delta=0.5),
                       ones, float(n * C))
    assert torch.allclose(ref(x2, "mean"), F.huber_loss(x2, tgt, delta=0.5), rtol=1e-14, atol=0)


# --------------------------------------------------------------------------
# cross_entropy, class-index targets
# --------------------------------------------------------------------------
CE_INDEX_CASES = {
    "plain": dict(),
    "weight": dict(weight=True),
    "ignore3": dict(ignore_index=3),
    "ignore_default": dict(ignore_index=-100),
    "ls": dict(ls=0.1),
    "ls_weight": dict(ls=0.25, weight=True),
    "ls_weight_ignore3": dict(ls=0.2, weight=True, ignore_index=3),
    "sw": dict(sw="rand"),
    "sw_ones": dict(sw="ones"),
    "sw_ones_weight_ignore": dict(sw="ones", weight=True, ignore_index=-100),
    "sw_weight_ignore_ls": dict(sw="rand", weight=True, ignore_index=-100, ls=0.15),
    "nd": dict(shape=(7, 5, 3, 4)),
    "nd_weight_ignore2": dict(shape=(7, 5, 3, 4), weight=True, ignore_index=2),
    "nd_all": dict(shape=(7, 5, 3, 4), weight=True, ignore_index=-100, ls=0.1, sw="rand"),
    "3d_ls": dict(shape=(9, 5, 6), ls=0.05),
    "unbatched": dict(shape=(5,)),
    "unbatched_weight_ls": dict(shape=(5,), weight=True, ls=0.3),
    "int32_target": dict(target_dtype=np.int32, weight=True),
    "uint8_target": dict(target_dtype=np.uint8, ls=0.1),
    "ls_one_weight": dict(ls=1.0, weight=True, ignore_index=-100),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CE_INDEX_CASES), ids=list(CE_INDEX_CASES))
def test_cross_entropy_index_target(case, dtype, reduction):
    c = CE_INDEX_CASES[case]
    rng = np.random.default_rng(10)
    shape = c.get("shape", (37, 5))
    C = shape[0] if len(shape) == 1 else shape[1]
    rows = row_shape_of(shape)
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    ii = c.get("ignore_index")
    t = make_index_target(rng, C, rows, ii).astype(c.get("target_dtype", np.int64))
    w = make_class_weight(rng, C, dtype) if c.get("weight") else None
    ls = c.get("ls", 0.0)
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)

    kwargs = dict(weight=w, label_smoothing=ls, sample_weight=sw)
    tkw = {}
    if ii is not None and ii != -100:
        kwargs["ignore_index"] = ii
        tkw["ignore_index"] = ii

    def direct(xt, r):
        return F.cross_entropy(xt, T(t), weight=None if w is None else T(w), reduction=r,
                               label_smoothing=ls, **tkw)

    divisor = None
    if c.get("sw") == "rand":
        wv = np.ones(C) if w is None else w.astype(np.float64)
        ign = -100 if ii is None else ii
        mask = t != ign
        divisor = (sw_broadcast(sw, len(rows)) * wv[np.where(mask, t, 0)] * mask).sum()
    compare(losses.cross_entropy, x, t, kwargs, reduction, pick_ref(direct, c.get("sw"), sw,
                                                                    divisor))


# --------------------------------------------------------------------------
# cross_entropy, class-probability targets
# --------------------------------------------------------------------------
CE_PROB_CASES = {
    "plain": dict(),
    "weight": dict(weight=True),
    "ls": dict(ls=0.1),
    "weight_ls": dict(weight=True, ls=0.3),
    "sw": dict(sw="rand"),
    "sw_ones": dict(sw="ones", weight=True, ls=0.1),
    "sw_weight_ls": dict(sw="rand", weight=True, ls=0.2),
    "nd_weight_ls_sw": dict(shape=(7, 5, 3, 4), weight=True, ls=0.1, sw="rand"),
    "nd": dict(shape=(6, 4, 5)),
    "unbatched": dict(shape=(5,)),
    "unbatched_weight_ls": dict(shape=(5,), weight=True, ls=0.2),
    "unnormalized": dict(unnormalized=True),
    "unnormalized_weight_ls_sw": dict(unnormalized=True, weight=True, ls=0.2, sw="rand"),
    # a negative ignore_index has no effect on probability targets (as in torch)
    "ignore_index_unused": dict(ignore_index=-1, weight=True),
}


def make_prob_target(rng, shape, unnormalized=False):
    if unnormalized:
        return rng.uniform(0.0, 1.5, shape)
    if len(shape) == 1:
        return rng.dirichlet(np.ones(shape[0]))
    C = shape[1]
    other = (shape[0],) + tuple(shape[2:])
    y = rng.dirichlet(np.full(C, 0.7), size=other)  # (n, d..., C)
    return np.moveaxis(y, -1, 1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CE_PROB_CASES), ids=list(CE_PROB_CASES))
def test_cross_entropy_prob_target(case, dtype, reduction):
    c = CE_PROB_CASES[case]
    rng = np.random.default_rng(11)
    shape = c.get("shape", (37, 5))
    C = shape[0] if len(shape) == 1 else shape[1]
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    y = make_prob_target(rng, shape, c.get("unnormalized", False)).astype(dtype)
    w = make_class_weight(rng, C, dtype) if c.get("weight") else None
    ls = c.get("ls", 0.0)
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)
    kwargs = dict(weight=w, label_smoothing=ls, sample_weight=sw)
    if "ignore_index" in c:
        kwargs["ignore_index"] = c["ignore_index"]

    def direct(xt, r):
        return F.cross_entropy(xt, T(y), weight=None if w is None else T(w), reduction=r,
                               label_smoothing=ls, ignore_index=c.get("ignore_index", -100))

    divisor = None
    if c.get("sw") == "rand":
        divisor = float(np.sum(sw.astype(np.float64))) * int(np.prod(shape[2:]))
    compare(losses.cross_entropy, x, y, kwargs, reduction,
            pick_ref(direct, c.get("sw"), sw, divisor))


# --------------------------------------------------------------------------
# nll_loss
# --------------------------------------------------------------------------
NLL_CASES = {
    "plain": dict(),
    "weight": dict(weight=True),
    "ignore3": dict(ignore_index=3),
    "ignore_default": dict(ignore_index=-100),
    "sw": dict(sw="rand"),
    "sw_ones": dict(sw="ones", weight=True),
    "sw_weight_ignore": dict(sw="rand", weight=True, ignore_index=-100),
    "nd": dict(shape=(7, 5, 3, 4)),
    "nd_weight_ignore_sw": dict(shape=(7, 5, 3, 4), weight=True, ignore_index=4, sw="rand"),
    "unbatched": dict(shape=(5,)),
    "unbatched_weight": dict(shape=(5,), weight=True),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(NLL_CASES), ids=list(NLL_CASES))
def test_nll_loss(case, dtype, reduction):
    c = NLL_CASES[case]
    rng = np.random.default_rng(12)
    shape = c.get("shape", (37, 5))
    cax = 0 if len(shape) == 1 else 1
    C = shape[cax]
    rows = row_shape_of(shape)
    logits = 2 * rng.standard_normal(shape)
    x = (logits - np.log(np.exp(logits).sum(axis=cax, keepdims=True))).astype(dtype)
    ii = c.get("ignore_index")
    t = make_index_target(rng, C, rows, ii)
    w = make_class_weight(rng, C, dtype) if c.get("weight") else None
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)
    kwargs = dict(weight=w, sample_weight=sw)
    tkw = {}
    if ii is not None and ii != -100:
        kwargs["ignore_index"] = ii
        tkw["ignore_index"] = ii

    def direct(xt, r):
        return F.nll_loss(xt, T(t), weight=None if w is None else T(w), reduction=r, **tkw)

    divisor = None
    if c.get("sw") == "rand":
        wv = np.ones(C) if w is None else w.astype(np.float64)
        ign = -100 if ii is None else ii
        mask = t != ign
        divisor = (sw_broadcast(sw, len(rows)) * wv[np.where(mask, t, 0)] * mask).sum()
    compare(losses.nll_loss, x, t, kwargs, reduction, pick_ref(direct, c.get("sw"), sw, divisor))


# --------------------------------------------------------------------------
# softmax / log_softmax
# --------------------------------------------------------------------------
SOFTMAX_CASES = [
    ((37, 5), -1), ((37, 5), 1), ((37, 5), 0), ((37, 5), -2),
    ((4, 5, 6), 0), ((4, 5, 6), 1), ((4, 5, 6), 2), ((4, 5, 6), -1),
    ((11,), 0), ((2, 3, 4, 5), 2), ((1, 7), 0),
]


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES)
def test_softmax(shape, dim, dtype, log):
    rng = np.random.default_rng(13)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    fn = losses.log_softmax if log else losses.softmax
    tfn = torch.log_softmax if log else torch.softmax
    ours = fn(x, dim)
    ours_kw = fn(x, dim=dim)
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == dtype and ours.shape == x.shape
    ref = tfn(T(x), dim=dim).numpy()
    assert_close(ours, ref, dtype, "values")
    np.testing.assert_array_equal(ours, ours_kw)


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_default_dim_is_last(log):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4, 5))
    fn = losses.log_softmax if log else losses.softmax
    tfn = torch.log_softmax if log else torch.softmax
    assert_close(fn(x), tfn(T(x), dim=-1).numpy(), np.float64, "values")


# --------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# --------------------------------------------------------------------------
BCE_CASES = {
    "plain_2d": dict(),
    "plain_1d": dict(shape=(37,)),
    "plain_3d": dict(shape=(6, 5, 4)),
    "weight_C": dict(weight="C"),
    "weight_full": dict(weight="full"),
    "weight_col": dict(weight="col"),
    "weight_full_1d": dict(shape=(37,), weight="full"),
    "pos_weight": dict(pos_weight=True),
    "pos_weight_weight_C": dict(pos_weight=True, weight="C"),
    "pos_weight_weight_full": dict(pos_weight=True, weight="full"),
    "pos_weight_3d": dict(shape=(6, 5, 4), pos_weight=True),
    "pos_weight_weight_col_3d": dict(shape=(6, 5, 4), pos_weight=True, weight="col"),
}


def make_soft_binary_target(rng, shape):
    y = rng.uniform(0.0, 1.0, shape)
    r = rng.random(shape)
    y[r < 0.3] = 0.0
    y[r > 0.7] = 1.0
    return y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(BCE_CASES), ids=list(BCE_CASES))
def test_binary_cross_entropy_with_logits(case, dtype, reduction):
    c = BCE_CASES[case]
    rng = np.random.default_rng(15)
    shape = c.get("shape", (37, 5))
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    y = make_soft_binary_target(rng, shape).astype(dtype)
    w = None
    if c.get("weight") == "C":
        w = rng.uniform(0.0, 2.0, shape[-1]).astype(dtype)
    elif c.get("weight") == "full":
        w = rng.uniform(0.0, 2.0, shape).astype(dtype)
    elif c.get("weight") == "col":
        w = rng.uniform(0.0, 2.0, (shape[0],) + (1,) * (len(shape) - 1)).astype(dtype)
    pw = rng.uniform(0.2, 4.0, shape[-1]).astype(dtype) if c.get("pos_weight") else None
    kwargs = dict(weight=w, pos_weight=pw)

    def direct(xt, r):
        return F.binary_cross_entropy_with_logits(
            xt, T(y), weight=None if w is None else T(w),
            pos_weight=None if pw is None else T(pw), reduction=r)

    compare(losses.binary_cross_entropy_with_logits, x, y, kwargs, reduction, direct)


# --------------------------------------------------------------------------
# multi_margin_loss (weston_watkins == torch, crammer_singer == reference)
# --------------------------------------------------------------------------
MM_CASES = {
    "plain": dict(),
    "margin_half": dict(margin=0.5),
    "margin_2": dict(margin=2.0),
    "weight": dict(weight=True),
    "weight_margin": dict(weight=True, margin=1.5),
    "sw": dict(sw="rand"),
    "sw_ones": dict(sw="ones", weight=True),
    "sw_weight": dict(sw="rand", weight=True, margin=0.7),
    "unbatched": dict(shape=(5,)),
    "unbatched_weight": dict(shape=(5,), weight=True, margin=1.3),
}


def _mm_data(c, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = c.get("shape", (37, 5))
    C = shape[-1]
    x = rng.standard_normal(shape).astype(dtype)
    t = np.array(rng.integers(0, C)) if len(shape) == 1 else rng.integers(0, C, shape[0])
    w = make_class_weight(rng, C, dtype) if c.get("weight") else None
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)
    return x, t, w, sw


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("case", list(MM_CASES), ids=list(MM_CASES))
def test_multi_margin_weston_watkins(case, p, dtype, reduction):
    c = MM_CASES[case]
    x, t, w, sw = _mm_data(c, dtype, 16)
    margin = c.get("margin", 1.0)
    kwargs = dict(p=p, margin=margin, weight=w, sample_weight=sw)
    if case != "plain":
        kwargs["kind"] = "weston_watkins"  # "plain" checks it is the default

    def direct(xt, r):
        return F.multi_margin_loss(xt, T(t), p=p, margin=margin,
                                   weight=None if w is None else T(w), reduction=r)

    divisor = None if sw is None else float(np.sum(sw.astype(np.float64)))
    compare(losses.multi_margin_loss, x, t, kwargs, reduction,
            pick_ref(direct, c.get("sw"), sw, divisor))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("case", list(MM_CASES), ids=list(MM_CASES))
def test_multi_margin_crammer_singer(case, p, dtype, reduction):
    c = MM_CASES[case]
    x, t, w, sw = _mm_data(c, dtype, 17)
    margin = c.get("margin", 1.0)
    kwargs = dict(p=p, margin=margin, weight=w, sample_weight=sw, kind="crammer_singer")

    def direct(xt, r):
        per = crammer_singer_torch(xt, t, p, margin, w)
        if r == "none":
            return per
        return per.sum() if r == "sum" else per.mean()

    divisor = None if sw is None else float(np.sum(sw.astype(np.float64)))
    compare(losses.multi_margin_loss, x, t, kwargs, reduction,
            pick_ref(direct, c.get("sw"), sw, divisor))


# --------------------------------------------------------------------------
# hinge_loss
# --------------------------------------------------------------------------
HINGE_CASES = {
    "1d_pm1": dict(shape=(37,)),
    "2d_pm1": dict(),
    "1d_01": dict(shape=(37,), targets="01"),
    "2d_01": dict(targets="01"),
    "margin_half": dict(margin=0.5),
    "margin_2": dict(margin=2.0, targets="01"),
    "sw_1d": dict(shape=(37,), sw="rand"),
    "sw_2d": dict(sw="rand", margin=0.8),
    "sw_3d": dict(shape=(9, 3, 4), sw="rand"),
    "sw_ones": dict(sw="ones"),
    "int_pm1": dict(targets="pm1", target_dtype=np.int64),
    "int_01": dict(targets="01", target_dtype=np.int64),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("case", list(HINGE_CASES), ids=list(HINGE_CASES))
def test_hinge_loss(case, squared, dtype, reduction):
    c = HINGE_CASES[case]
    rng = np.random.default_rng(18)
    shape = c.get("shape", (37, 4))
    x = (1.5 * rng.standard_normal(shape)).astype(dtype)
    pm = rng.choice([-1, 1], size=shape)
    t = (pm > 0).astype(np.int64) if c.get("targets") == "01" else pm
    t = t.astype(c.get("target_dtype", dtype))
    margin = c.get("margin", 1.0)
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)
    kwargs = dict(squared=squared, sample_weight=sw)
    if margin != 1.0:
        kwargs["margin"] = margin

    def direct(xt, r):
        per = hinge_torch(xt, t, margin, squared)
        if r == "none":
            return per
        return per.sum() if r == "sum" else per.mean()

    divisor = None if sw is None else float(np.sum(sw.astype(np.float64))) * int(
        np.prod(shape[1:]))
    compare(losses.hinge_loss, x, t, kwargs, reduction,
            pick_ref(direct, c.get("sw"), sw, divisor))


# --------------------------------------------------------------------------
# mse_loss / huber_loss
# --------------------------------------------------------------------------
REG_CASES = {
    "1d": dict(shape=(37,)),
    "2d": dict(),
    "3d": dict(shape=(6, 3, 4)),
    "sw_1d": dict(shape=(37,), sw="rand"),
    "sw_2d": dict(sw="rand"),
    "sw_3d": dict(shape=(6, 3, 4), sw="rand"),
    "sw_ones": dict(sw="ones"),
}


def _reg_data(c, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = c.get("shape", (37, 3))
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    t = (2 * rng.standard_normal(shape)).astype(dtype)
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)
    divisor = None if sw is None else float(np.sum(sw.astype(np.float64))) * int(
        np.prod(shape[1:]))
    return x, t, sw, divisor


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(REG_CASES), ids=list(REG_CASES))
def test_mse_loss(case, dtype, reduction):
    c = REG_CASES[case]
    x, t, sw, divisor = _reg_data(c, dtype, 19)

    def direct(xt, r):
        return F.mse_loss(xt, T(t), reduction=r)

    compare(losses.mse_loss, x, t, dict(sample_weight=sw), reduction,
            pick_ref(direct, c.get("sw"), sw, divisor))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
@pytest.mark.parametrize("case", list(REG_CASES), ids=list(REG_CASES))
def test_huber_loss(case, delta, dtype, reduction):
    c = REG_CASES[case]
    x, t, sw, divisor = _reg_data(c, dtype, 20)
    r_ = np.abs(x.astype(np.float64) - t)
    assert (r_ < delta).any() and (r_ > delta).any()  # both branches
    kwargs = dict(sample_weight=sw)
    if delta != 1.0:
        kwargs["delta"] = delta

    def direct(xt, r):
        return F.huber_loss(xt, T(t), reduction=r, delta=delta)

    compare(losses.huber_loss, x, t, kwargs, reduction,
            pick_ref(direct, c.get("sw"), sw, divisor))


# --------------------------------------------------------------------------
# all targets ignored / zero total weight: 'mean' must do what torch does
# --------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fname,ls", [("cross_entropy", 0.0), ("cross_entropy", 0.2),
                                      ("nll_loss", 0.0)])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_mean_all_ignored_matches_torch(fname, ls, ignore_index, weighted):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((6, 4))
    t = np.full(6, ignore_index)
    w = rng.uniform(0.5, 2.0, 4) if weighted else None
    kw = dict(weight=w)
    if ignore_index != -100:
        kw["ignore_index"] = ignore_index
    tkw = dict(kw, weight=None if w is None else T(w))
    if fname == "cross_entropy":
        kw["label_smoothing"] = ls
        tkw["label_smoothing"] = ls
    fn = getattr(losses, fname)
    tfn = getattr(F, fname)
    xt = torch.tensor(x, requires_grad=True)
    ref = tfn(xt, T(t), reduction="mean", **tkw)
    (ref_grad,) = torch.autograd.grad(ref, xt)
    loss, grad = fn(x, t, reduction="mean", return_grad=True, **kw)
    np.testing.assert_array_equal(np.float64(loss), ref.item())  # nan == nan here
    np.testing.assert_array_equal(grad, ref_grad.numpy())
    assert np.array_equal(np.float64(fn(x, t, reduction="mean", **kw)), ref.item(),
                          equal_nan=True)
    # 'sum' of nothing is 0 with a zero gradient
    loss_s, grad_s = fn(x, t, reduction="sum", return_grad=True, **kw)
    assert loss_s == 0.0 and not grad_s.any()


def test_mean_zero_total_class_weight_matches_torch():
    """Every non-ignored target has class weight 0: torch gives nan loss and grad."""
    rng = np.random.default_rng(22)
    x = rng.standard_normal((6, 4))
    t = np.array([0, 0, 1, 1, 0, 1])
    w = np.array([0.0, 0.0, 1.0, 2.0])
    for fname in ["cross_entropy", "nll_loss"]:
        xt = torch.tensor(x, requires_grad=True)
        ref = getattr(F, fname)(xt, T(t), weight=T(w), reduction="mean")
        (ref_grad,) = torch.autograd.grad(ref, xt)
        loss, grad = getattr(losses, fname)(x, t, weight=w, return_grad=True)
        np.testing.assert_array_equal(np.float64(loss), ref.item(), err_msg=fname)
        np.testing.assert_array_equal(grad, ref_grad.numpy(), err_msg=fname)
