"""Oracle tests for the losses and modules ported from PyTorch (issue #16):
binary_cross_entropy (on probabilities), hinge_embedding_loss, sigmoid,
log_sigmoid and the torch.nn-style module callables.

Loss and gradient are compared with torch.nn.functional and autograd, in
float64 (rtol 1e-12) from the same data, and float32 input additionally
with torch computing in float32 (rtol 1e-5), including extreme inputs:
p exactly 0 and 1, |x| up to 1e300 (float64) and 3e38 (float32).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

from skce import losses  # noqa: E402
from test_losses_torch import (  # noqa: E402
    DTYPES, REDUCTIONS, RTOL, T, assert_close, compare, make_sw, weighted_ref,
)


def compare_torch32(fn, x, target, kwargs, reduction, ref):
    """float32 input against torch computing in float32 (loss and autograd grad)."""
    loss, grad = fn(x, target, reduction=reduction, return_grad=True, **kwargs)
    xt = torch.tensor(x, requires_grad=True)
    ref_loss = ref(xt, reduction)
    (ref_grad,) = torch.autograd.grad(ref_loss.sum(), xt)
    assert grad.dtype == np.float32
    assert_close(loss, ref_loss.detach().numpy(), np.float32, "loss vs torch float32")
    assert_close(grad, ref_grad.numpy(), np.float32, "grad vs torch float32")


def tt(a, like):
    """numpy -> torch in the dtype of the tensor `like` (None stays None)."""
    return None if a is None else torch.tensor(np.asarray(a)).to(like.dtype)


# --------------------------------------------------------------------------
# binary_cross_entropy on probabilities
# --------------------------------------------------------------------------
BCEP_CASES = {
    "plain_2d": dict(),
    "plain_1d": dict(shape=(41,)),
    "plain_3d": dict(shape=(6, 5, 4)),
    "weight_last": dict(weight="last"),
    "weight_full": dict(weight="full"),
    "sw": dict(sw="rand"),
    "sw_weight_3d": dict(shape=(6, 5, 4), sw="rand", weight="last"),
    "extremes": dict(extremes=True),
}


def _bcep_data(c, dtype, seed=3):
    rng = np.random.default_rng(seed)
    shape = c.get("shape", (37, 5))
    p = rng.uniform(0.0, 1.0, shape)
    y = rng.uniform(0.0, 1.0, shape)
    y[rng.random(shape) < 0.4] = 1.0
    y[rng.random(shape) < 0.2] = 0.0
    if c.get("extremes"):
        tiny = np.finfo(dtype).tiny
        flat = p.reshape(-1)
        # exactly 0 and 1 (log clamped at -100, gradient over eps), a
        # subnormal, the smallest normal and the closest values to 1
        special = [0.0, 1.0, 0.0, 1.0, tiny, tiny / 8, 1e-30, np.nextafter(dtype(1), dtype(0)),
                   1e-12, 1 - 1e-7, 0.5]
        flat[:len(special)] = special
        y.reshape(-1)[:4] = [0.0, 1.0, 1.0, 0.0]
    w = None
    if c.get("weight") == "last":
        w = rng.uniform(0.0, 2.0, shape[-1]).astype(dtype)
    elif c.get("weight") == "full":
        w = rng.uniform(0.0, 2.0, shape).astype(dtype)
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)
    return p.astype(dtype), y.astype(dtype), w, sw


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(BCEP_CASES), ids=list(BCEP_CASES))
def test_binary_cross_entropy(case, dtype, reduction):
    c = BCEP_CASES[case]
    p, y, w, sw = _bcep_data(c, dtype)

    def direct(xt, r):
        return F.binary_cross_entropy(xt, tt(y, xt), weight=tt(w, xt), reduction=r)

    ref = direct
    if sw is not None:
        per_sample = p.size // p.shape[0]
        ref = weighted_ref(lambda xt: direct(xt, "none"), sw,
                           float(np.sum(sw, dtype=np.float64)) * per_sample)
    compare(losses.binary_cross_entropy, p, y, dict(weight=w, sample_weight=sw),
            reduction, ref)
    if dtype == np.float32 and sw is None:
        compare_torch32(losses.binary_cross_entropy, p, y, dict(weight=w), reduction, direct)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_endpoints_are_finite(dtype):
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    loss, grad = losses.binary_cross_entropy(p, y, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, np.array([100, 100, 0, 0], dtype=dtype))
    # torch's backward: (p - y) / max((1 - p) p, eps), eps the float 1e-12
    inv_eps = 1 / float(np.float32(1e-12))
    np.testing.assert_allclose(grad, [-inv_eps, inv_eps, 0, 0], rtol=RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("bad", [-1e-9, 1.0000001, np.nan, np.inf, -np.inf])
def test_binary_cross_entropy_rejects_non_probabilities(bad):
    p = np.full((4, 3), 0.5)
    p[2, 1] = bad
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        losses.binary_cross_entropy(p, np.ones((4, 3)))
    # torch refuses them as well (NaN and out of range alike)
    with pytest.raises(RuntimeError):
        F.binary_cross_entropy(torch.tensor(p), torch.ones(4, 3, dtype=torch.float64))


def test_binary_cross_entropy_strided_input():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=(20, 12))[::2, ::3]
    y = rng.uniform(size=(20, 12))[1::2, ::3]
    loss, grad = losses.binary_cross_entropy(p, y, return_grad=True)
    xt = torch.tensor(np.ascontiguousarray(p), requires_grad=True)
    ref = F.binary_cross_entropy(xt, torch.tensor(np.ascontiguousarray(y)))
    ref.backward()
    assert_close(loss, ref.item(), np.float64, "loss")
    assert_close(grad, xt.grad.numpy(), np.float64, "grad")


# --------------------------------------------------------------------------
# hinge_embedding_loss
# --------------------------------------------------------------------------
HE_CASES = {
    "plain_2d": dict(),
    "plain_1d": dict(shape=(41,)),
    "plain_3d": dict(shape=(6, 5, 4)),
    "margin_half": dict(margin=0.5),
    "margin_negative": dict(margin=-0.3),
    "sw": dict(sw="rand"),
    "int_target": dict(int_target=True, margin=2.0),
    "at_margin": dict(at_margin=True),
    "extremes": dict(extremes=True),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(HE_CASES), ids=list(HE_CASES))
def test_hinge_embedding_loss(case, dtype, reduction):
    c = HE_CASES[case]
    rng = np.random.default_rng(4)
    shape = c.get("shape", (37, 5))
    margin = c.get("margin", 1.0)
    x = 1.5 * rng.standard_normal(shape)
    y = np.where(rng.random(shape) < 0.5, -1, 1)
    if c.get("at_margin"):
        # x = margin exactly with y = -1: autograd's clamp_min passes -1
        x.reshape(-1)[:5] = margin
        y.reshape(-1)[:5] = -1
    if c.get("extremes"):
        big = 1e300 if dtype == np.float64 else 3e38
        x.reshape(-1)[:6] = [big, -big, big, -big, big / 7, -big / 7]
        y.reshape(-1)[:6] = [-1, -1, 1, 1, 1, -1]
        y.reshape(-1)[[2, 3, 4, 5]] = [1, -1, -1, 1]   # keep sums finite
    x = x.astype(dtype)
    target = y if c.get("int_target") else y.astype(dtype)
    sw = make_sw(rng, shape[0], c.get("sw"), dtype)

    def direct(xt, r):
        return F.hinge_embedding_loss(xt, tt(y, xt), margin=margin, reduction=r)

    ref = direct
    if sw is not None:
        ref = weighted_ref(lambda xt: direct(xt, "none"), sw,
                           float(np.sum(sw, dtype=np.float64)) * (x.size // shape[0]))
    compare(losses.hinge_embedding_loss, x, target, dict(margin=margin, sample_weight=sw),
            reduction, ref)
    # torch's float32 sum of +-3e38 overflows; ours sums in float64 (the
    # float64 reference above checks it)
    if dtype == np.float32 and sw is None and not (c.get("extremes") and reduction != "none"):
        compare_torch32(losses.hinge_embedding_loss, x, target, dict(margin=margin),
                        reduction, direct)


@pytest.mark.parametrize("bad", [0, 2, 0.5, np.nan])
def test_hinge_embedding_loss_rejects_other_labels(bad):
    y = np.ones(6)
    y[3] = bad
    with pytest.raises(ValueError, match="labels -1 or \\+1"):
        losses.hinge_embedding_loss(np.zeros(6), y)


# --------------------------------------------------------------------------
# sigmoid, log_sigmoid
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fname", ["sigmoid", "log_sigmoid"])
def test_sigmoid_family(fname, dtype):
    rng = np.random.default_rng(5)
    big = 1e300 if dtype == np.float64 else 3e38
    x = np.concatenate([8 * rng.standard_normal(200), [0.0, -0.0, big, -big, 40, -40, 800,
                                                       -800, 1e-30, -1e-30]]).astype(dtype)
    tfn = torch.sigmoid if fname == "sigmoid" else F.logsigmoid
    ours = getattr(losses, fname)(x.reshape(21, 10))
    assert ours.dtype == dtype and ours.shape == (21, 10)
    ref64 = tfn(T(x)).numpy().reshape(21, 10)
    ref_same = tfn(torch.tensor(x)).numpy().reshape(21, 10)
    rtol = RTOL[np.dtype(dtype)]
    for ref in (ref64, ref_same):
        assert np.isfinite(ours).all()
        # relative per element: sigmoid reaches 1e-300 scales where an
        # absolute tolerance would say nothing
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=0)


# --------------------------------------------------------------------------
# torch.nn-style modules
# --------------------------------------------------------------------------
def _class_data(rng, dtype):
    x = rng.standard_normal((9, 4)).astype(dtype)
    t = rng.integers(0, 4, 9)
    t[2] = 1
    return x, t


MODULES = {
    "CrossEntropyLoss": dict(weight=[0.5, 1.0, 2.0, 0.0], ignore_index=1, reduction="sum",
                             label_smoothing=0.1),
    "NLLLoss": dict(weight=[0.5, 1.0, 2.0, 1.0], ignore_index=2, reduction="mean"),
    "BCELoss": dict(weight=[0.5, 1.0, 2.0, 1.5], reduction="none"),
    "BCEWithLogitsLoss": dict(weight=[0.5, 1.0, 2.0, 1.5], pos_weight=[3.0, 1.0, 0.5, 2.0],
                              reduction="mean"),
    "MSELoss": dict(reduction="sum"),
    "HuberLoss": dict(reduction="mean", delta=0.7),
    "HingeEmbeddingLoss": dict(margin=0.4, reduction="sum"),
    "MultiMarginLoss": dict(p=2, margin=0.8, weight=[0.5, 1.0, 2.0, 1.5], reduction="mean"),
}


def _module_inputs(name, rng):
    x, t = _class_data(rng, np.float64)
    if name in ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"):
        return x, t
    if name == "BCELoss":
        return rng.uniform(size=x.shape), rng.uniform(size=x.shape)
    if name == "HingeEmbeddingLoss":
        return x, np.where(rng.random(x.shape) < 0.5, -1.0, 1.0)
    return x, rng.standard_normal(x.shape)


@pytest.mark.parametrize("defaults", [False, True])
@pytest.mark.parametrize("name", list(MODULES))
def test_loss_modules_match_torch_nn(name, defaults):
    rng = np.random.default_rng(6)
    kwargs = {} if defaults else MODULES[name]
    x, t = _module_inputs(name, rng)
    ours = getattr(losses, name)(**kwargs)
    theirs = getattr(nn, name)(**{k: torch.tensor(v, dtype=torch.float64)
                                  if isinstance(v, list) else v for k, v in kwargs.items()})
    assert repr(ours) == repr(theirs)
    loss, grad = ours(x, t, return_grad=True)
    assert_close(ours(x, t), loss, np.float64, "loss without grad")
    xt = torch.tensor(x, requires_grad=True)
    ref = theirs(xt, torch.tensor(t) if t.dtype.kind == "i" else torch.tensor(t))
    (ref_grad,) = torch.autograd.grad(ref.sum(), xt)
    assert_close(loss, ref.detach().numpy(), np.float64, "loss")
    assert_close(grad, ref_grad.numpy(), np.float64, "grad")


def test_loss_module_sample_weight_is_the_functional():
    rng = np.random.default_rng(7)
    x, t = _class_data(rng, np.float64)
    sw = rng.uniform(size=9)
    mod = losses.CrossEntropyLoss(label_smoothing=0.2)
    assert mod(x, t, sample_weight=sw) == losses.cross_entropy(
        x, t, label_smoothing=0.2, sample_weight=sw)


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("ndim, dim", [(n, d) for n in (1, 2, 3) for d in (0, 1, -1, None)
                                        if d is None or d < n])
def test_softmax_modules_match_torch_nn(name, dim, ndim):
    x = np.random.default_rng(8).standard_normal((3, 4, 5)[:ndim])
    ours, theirs = getattr(losses, name)(dim), getattr(nn, name)(dim)
    assert repr(ours) == repr(theirs)
    if dim is None:
        with pytest.warns(UserWarning, match="Implicit dimension"):
            out = ours(x)
        with pytest.warns(UserWarning):
            ref = theirs(torch.tensor(x))
    else:
        out, ref = ours(x), theirs(torch.tensor(x))
    assert_close(out, ref.numpy(), np.float64, name)


@pytest.mark.parametrize("name", ["Sigmoid", "LogSigmoid"])
def test_elementwise_modules_match_torch_nn(name):
    x = np.random.default_rng(9).standard_normal((4, 6)).astype(np.float32) * 30
    ours, theirs = getattr(losses, name)(), getattr(nn, name)()
    assert repr(ours) == repr(theirs)
    out = ours(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=0)


def test_module_rejects_unknown_argument():
    with pytest.raises(TypeError, match="size_average"):
        losses.MSELoss(size_average=True)
    with pytest.raises(TypeError):
        losses.HuberLoss("mean")      # keyword-only, unlike torch's positional order
