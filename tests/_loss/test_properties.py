"""Property-based tests (hypothesis) of every kernel in skce.losses against
float64 / long-double numpy references written here.

Each property draws a shape (n = 0 and 1 included, C = 1, 2 and up to 300),
a dtype, a memory layout (C, Fortran, transposed, strided slices with
positive or negative steps) and values (moderate, or extreme: up to +-1e300
in float64 / +-3e38 in float32 for the softmax family, -inf non-target
logits), then checks the loss and gradient against the reference and that
n_threads=1 and n_threads=2 give bitwise identical results.

Conventions checked (skce's documented behaviour, as PyTorch's): an empty
batch (n = 0) gives 'mean' = nan (0 / 0), 'sum' = 0, 'none' an empty array,
and a gradient of the input's shape.

Runs derandomized (a fixed sequence of examples, no example database) so CI
is reproducible.  HYPOTHESIS_PROFILE=sanitizer runs a quarter of the
examples (for the slow debug/ASan build of .ci/run).
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skce import losses as L

# the references overflow on purpose for extreme inputs (-> inf, compared as such)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

settings.register_profile(
    "skce", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "sanitizer", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "skce")
if PROFILE not in ("skce", "sanitizer"):
    PROFILE = "skce"
settings.load_profile(PROFILE)


def examples(n):
    return max(5, n // 4) if PROFILE == "sanitizer" else n


DTYPES = st.sampled_from([np.float32, np.float64])
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
N_ROWS = st.sampled_from([0, 1, 2, 3, 7, 33, 130])
N_CLASSES = st.sampled_from([1, 2, 3, 5, 17, 300])


# ---------------------------------------------------------------------------
# layouts and values
# ---------------------------------------------------------------------------

@st.composite
def layout_of(draw, a):
    """An array equal to `a` (same shape, dtype, values) in a drawn memory
    layout: C, Fortran, axes permuted in memory, or a strided slice of a
    larger buffer (steps 1-3 per axis, possibly negative)."""
    kind = draw(st.sampled_from(["C", "F", "permuted", "strided"]))
    if kind == "C" or a.ndim == 0:
        return a.copy()   # (np.ascontiguousarray would make a 0-d array 1-d)
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "permuted":
        perm = draw(st.permutations(range(a.ndim)))
        b = np.ascontiguousarray(a.transpose(perm))
        return b.transpose(np.argsort(perm))
    steps = [draw(st.sampled_from([1, 2, 3, -1, -2])) for _ in range(a.ndim)]
    fill = np.nan if a.dtype.kind == "f" else 0
    big = np.full([max(d, 1) * abs(s) for d, s in zip(a.shape, steps)], fill, a.dtype)
    index = tuple(slice(None, None, s) for s in steps)
    view = big[index][tuple(slice(0, d) for d in a.shape)]
    view[...] = a
    assert view.shape == a.shape
    return view


def rng_of(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def max_abs(dtype):
    return 1e300 if dtype == np.float64 else 3e38


def tol(dtype):
    return 1e-9 if dtype == np.float64 else 3e-5


def assert_close(actual, expected, dtype, scale=None, what=""):
    """Elementwise |a - e| <= tol * (|e| + scale), infinities equal."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, what
    inf = np.isinf(expected)
    np.testing.assert_array_equal(actual[inf], expected[inf], err_msg=what)
    assert not np.isnan(actual[~inf]).any(), what
    if scale is None:
        scale = max(1.0, float(np.abs(expected[~inf]).max(initial=0.0)))
    err = np.abs(actual[~inf] - expected[~inf])
    bound = tol(dtype) * (np.abs(expected[~inf]) + scale)
    assert (err <= bound).all(), f"{what}: max excess {np.max(err - bound)}"


def assert_reduced(loss, rows, reduction, divisor, dtype, what="loss"):
    """Compare a loss with reference per-row losses `rows` under a reduction."""
    rows = np.asarray(rows, dtype=np.float64)
    if reduction == "none":
        expected = rows.astype(dtype).astype(np.float64)  # the output's rounding
        assert np.asarray(loss).dtype == dtype
        assert_close(loss, expected, dtype, what=what)
        return
    total = rows.sum()
    if reduction == "sum":
        assert_close(loss, total, dtype, scale=_scale(rows), what=what)
    elif divisor == 0:
        assert np.isnan(loss), f"{what}: mean over nothing must be nan, got {loss}"
    else:
        assert_close(loss, total / divisor, dtype, scale=_scale(rows) / divisor, what=what)


def _scale(rows):
    finite = rows[np.isfinite(rows)]
    return max(1.0, float(np.abs(finite).sum()))


def check_threads(fn):
    """fn(n_threads) gives bitwise the same loss and gradient for 1 and 2 threads."""
    one, two = fn(1), fn(2)
    _bitwise(one, two)
    return two


def _bitwise(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _bitwise(x, y)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), "n_threads=1 and n_threads=2 differ"


# ---------------------------------------------------------------------------
# softmax family: references
# ---------------------------------------------------------------------------

def ref_log_softmax(x):
    """(rows, C) float64 -> log-softmax with the max subtracted, in long double."""
    x = x.astype(np.longdouble)
    m = x.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = x - m
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def to_rows(a):
    """(C,), (n, C) or (n, C, d) -> (rows, C) with the class axis last."""
    if a.ndim == 1:
        return a[np.newaxis]
    if a.ndim == 2:
        return a
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def from_rows(r, shape):
    if len(shape) == 1:
        return r[0]
    if len(shape) == 2:
        return r
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(r.reshape(moved), -1, 1)


@st.composite
def class_problem(draw, ndim=None, extreme=True):
    """(x, rng) logits of shape (C,), (n, C) or (n, C, d)."""
    dtype = draw(DTYPES)
    ndim = draw(st.sampled_from([1, 2, 2, 2, 3])) if ndim is None else ndim
    C = draw(N_CLASSES)
    n = draw(N_ROWS)
    if ndim == 3:
        n = min(n, 7)
        C = min(C, 17)
    shape = {1: (C,), 2: (n, C), 3: (n, C, draw(st.sampled_from([1, 2, 5])))}[ndim]
    rng = rng_of(draw)
    scale = draw(st.sampled_from(
        [1.0, 10.0, 1e3] + ([1e30, max_abs(dtype)] if extreme else [])))
    x = (rng.uniform(-1, 1, shape) * scale).astype(dtype)
    if extreme and x.size and draw(st.booleans()):
        # some entries exactly at the dtype's largest magnitudes
        mask = rng.random(shape) < 0.2
        x[mask] = np.where(rng.random(shape) < 0.5, 1, -1)[mask] * max_abs(dtype)
    return x, rng


def add_neg_inf(x, rng, keep):
    """Set ~20 % of the entries not in `keep` (a bool mask) to -inf."""
    x = x.copy()
    mask = (rng.random(x.shape) < 0.2) & ~keep
    x[mask] = -np.inf
    return x


def target_mask(x, t):
    """Boolean mask of the target class entries of (C,)/(n,C)/(n,C,d) x."""
    rows = np.zeros(to_rows(x).shape, dtype=bool)
    tr = np.asarray(t).reshape(-1)
    ok = (tr >= 0) & (tr < rows.shape[1])
    rows[np.arange(len(tr))[ok], tr[ok]] = True
    return from_rows(rows, x.shape)


def ref_ce_index(x, t, weight, sw, ignore_index, eps):
    """Per-row losses, 'mean' divisor and d(sum of row losses)/dx (rows, C)."""
    xr = to_rows(x).astype(np.float64)
    rows, C = xr.shape
    tr = np.asarray(t).reshape(-1)
    w = np.ones(C) if weight is None else weight
    s = np.ones(rows) if sw is None else np.repeat(sw, rows // max(len(sw), 1)) \
        if len(sw) else np.ones(0)
    active = tr != ignore_index
    ty = np.where(active, tr, 0)
    lp = ref_log_softmax(xr)
    p = np.exp(lp)
    wy = w[ty] * active
    nlp_y = np.where(active, -lp[np.arange(rows), ty], 0)
    with np.errstate(invalid="ignore"):
        # -lp is +inf only for -inf logits: with eps = 0 they carry weight 0
        smooth = (-lp * w).sum(axis=1) if eps else np.zeros(rows)
    loss = s * ((1 - eps) * wy * nlp_y + (eps / C) * smooth * active)
    onehot = np.zeros((rows, C))
    onehot[np.arange(rows), ty] = 1
    grad = s[:, None] * active[:, None] * (
        (1 - eps) * wy[:, None] * (p - onehot)
        + (eps / C) * (w.sum() * p - w[None, :]))
    divisor = float((s * wy).sum())
    return loss.astype(np.float64), divisor, grad.astype(np.float64)


def ref_ce_prob(x, y, weight, sw, eps):
    xr = to_rows(x).astype(np.float64)
    rows, C = xr.shape
    yr = to_rows(y).astype(np.float64) * (1 - eps) + eps / C
    w = np.ones(C) if weight is None else weight
    s = np.ones(rows) if sw is None else np.repeat(sw, rows // max(len(sw), 1)) \
        if len(sw) else np.ones(0)
    lp = ref_log_softmax(xr)
    p = np.exp(lp)
    wy = w * yr
    with np.errstate(invalid="ignore"):
        contrib = np.where(wy == 0, 0, -lp * wy)     # 0 * inf = 0 (skce)
    loss = s * contrib.sum(axis=1)
    grad = s[:, None] * (p * wy.sum(axis=1, keepdims=True) - wy)
    n_pos = rows // x.shape[0] if x.ndim > 1 and x.shape[0] else 1
    divisor = float(rows) if sw is None else float(sw.sum()) * n_pos
    return loss.astype(np.float64), divisor, grad.astype(np.float64)


def check_softmax_grad(grad, ref_grad_rows, x, reduction, divisor, dtype, weight, sw):
    scale = 1.0 if reduction != "mean" or divisor == 0 else 1.0 / divisor
    assert grad.shape == x.shape and grad.dtype == dtype
    if reduction == "mean" and divisor == 0:
        return   # nan scale, nothing to compare on (only an empty batch)
    g_rows = to_rows(grad).astype(np.float64)
    expected = ref_grad_rows * scale
    # entries are bounded by (sample weight) x (largest class weight) x scale
    bound = scale * (1.0 if weight is None else weight.max()) * \
        (1.0 if sw is None else sw.max(initial=0.0))
    gscale = max(float(np.abs(expected).max(initial=0.0)), bound, np.finfo(dtype).tiny)
    assert_close(g_rows, expected, dtype, scale=gscale, what="grad")
    # the gradient of each row sums to ~0 (softmax is shift invariant)
    if g_rows.size:
        row_sums = g_rows.sum(axis=1)
        assert (np.abs(row_sums) <= 10 * tol(dtype) * g_rows.shape[1] * gscale + 1e-300).all()


def class_weights(draw, rng, C):
    if not draw(st.booleans()):
        return None
    return rng.uniform(0.1, 3.0, C)


def sample_weights(draw, rng, n):
    if not draw(st.booleans()):
        return None
    sw = rng.uniform(0.0, 2.0, n)
    if n and draw(st.booleans()):
        sw[rng.random(n) < 0.3] = 0.0
    return sw


# ---------------------------------------------------------------------------
# softmax family: properties
# ---------------------------------------------------------------------------

@settings(max_examples=examples(150))
@given(data=st.data(), prob=class_problem())
def test_cross_entropy_index_targets(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    tshape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    t = rng.integers(0, C, tshape)
    ignore_index = draw(st.sampled_from([-100, 0, C - 1]))
    if draw(st.booleans()):
        x = add_neg_inf(x, rng, target_mask(x, t))
    eps = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))
    if eps and np.isinf(x).any():
        eps = 0.0   # -inf logits make the smoothing term +inf (as in torch)
    weight = class_weights(draw, rng, C)
    n = 1 if x.ndim == 1 else x.shape[0]
    sw = sample_weights(draw, rng, n) if x.ndim > 1 else None
    reduction = draw(REDUCTIONS)
    xl = draw(layout_of(x))
    tl = draw(layout_of(t)) if t.ndim else t

    def run(n_threads):
        return L.cross_entropy(xl, tl, weight=weight, ignore_index=ignore_index,
                               reduction=reduction, label_smoothing=eps,
                               sample_weight=sw, n_threads=n_threads, return_grad=True)
    loss, grad = check_threads(run)
    rows, divisor, g = ref_ce_index(x, t, weight, sw, ignore_index, eps)
    if reduction == "none":
        rows = rows.reshape(tshape)
    assert_reduced(loss, rows, reduction, divisor, dtype)
    check_softmax_grad(grad, g, x, reduction, divisor, dtype, weight, sw)
    if reduction != "none" and np.isfinite(rows).all():
        assert loss >= 0 or np.isnan(loss)


@settings(max_examples=examples(100))
@given(data=st.data(), prob=class_problem())
def test_cross_entropy_probability_targets(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    y = rng.dirichlet(np.ones(x.shape[0] if x.ndim == 1 else x.shape[1]),
                      to_rows(x).shape[0]) if x.size else np.zeros(to_rows(x).shape)
    if draw(st.booleans()) and y.size:
        y[rng.random(y.shape) < 0.4] = 0.0      # classes with zero probability
        y[np.arange(len(y)), rng.integers(0, y.shape[1], len(y))] += 0.5
    y = from_rows(y, x.shape).astype(dtype)
    eps = draw(st.sampled_from([0.0, 0.0, 0.2]))
    if eps == 0 and draw(st.booleans()):
        x = add_neg_inf(x, rng, y != 0)   # -inf only where the probability is 0
    weight = class_weights(draw, rng, x.shape[0] if x.ndim == 1 else x.shape[1])
    sw = sample_weights(draw, rng, x.shape[0]) if x.ndim > 1 else None
    reduction = draw(REDUCTIONS)
    xl, yl = draw(layout_of(x)), draw(layout_of(y))

    def run(n_threads):
        return L.cross_entropy(xl, yl, weight=weight, reduction=reduction,
                               label_smoothing=eps, sample_weight=sw,
                               n_threads=n_threads, return_grad=True)
    loss, grad = check_threads(run)
    rows, divisor, g = ref_ce_prob(x, y, weight, sw, eps)
    if reduction == "none":
        rows = rows.reshape(() if x.ndim == 1 else (x.shape[0],) + x.shape[2:])
    assert_reduced(loss, rows, reduction, divisor, dtype)
    check_softmax_grad(grad, g, x, reduction, divisor, dtype, weight, sw)


@settings(max_examples=examples(80))
@given(data=st.data(), prob=class_problem(extreme=False))
def test_nll_loss(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    tshape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
    t = rng.integers(0, C, tshape)
    ignore_index = draw(st.sampled_from([-100, 0]))
    weight = class_weights(draw, rng, C)
    sw = sample_weights(draw, rng, x.shape[0]) if x.ndim > 1 else None
    reduction = draw(REDUCTIONS)
    xl = draw(layout_of(x))

    def run(n_threads):
        return L.nll_loss(xl, t, weight=weight, ignore_index=ignore_index,
                          reduction=reduction, sample_weight=sw, n_threads=n_threads,
                          return_grad=True)
    loss, grad = check_threads(run)
    xr = to_rows(x).astype(np.float64)
    tr = t.reshape(-1)
    active = tr != ignore_index
    ty = np.where(active, tr, 0)
    w = np.ones(C) if weight is None else weight
    s = np.ones(len(tr)) if sw is None else np.repeat(sw, len(tr) // max(len(sw), 1))
    wy = s * w[ty] * active
    rows = -wy * xr[np.arange(len(tr)), ty]
    g = np.zeros_like(xr)
    g[np.arange(len(tr)), ty] = -wy
    divisor = float(wy.sum())
    assert_reduced(loss, rows.reshape(tshape) if reduction == "none" else rows,
                   reduction, divisor, dtype)
    if not (reduction == "mean" and divisor == 0):
        scale = 1 / divisor if reduction == "mean" else 1.0
        assert_close(to_rows(grad), g * scale, dtype, what="grad")


@settings(max_examples=examples(100))
@given(data=st.data(), prob=class_problem())
def test_softmax_and_log_softmax(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    if x.size and draw(st.booleans()):
        # -inf anywhere except one entry per slice along dim
        keep = np.zeros(x.shape, dtype=bool)
        idx = list(np.indices(np.delete(x.shape, dim % x.ndim)))
        idx.insert(dim % x.ndim, rng.integers(0, x.shape[dim], idx[0].shape if idx else ()))
        keep[tuple(idx)] = True
        x = add_neg_inf(x, rng, keep)
    xl = draw(layout_of(x))
    sm = check_threads(lambda k: L.softmax(xl, dim=dim, n_threads=k))
    lsm = check_threads(lambda k: L.log_softmax(xl, dim=dim, n_threads=k))
    assert sm.shape == lsm.shape == x.shape and sm.dtype == lsm.dtype == dtype
    if x.size == 0:
        return
    moved = np.moveaxis(x.astype(np.float64), dim, -1)
    ref = ref_log_softmax(moved.reshape(-1, x.shape[dim])).reshape(moved.shape)
    # rounded to the output dtype: x - max may overflow float32 (-> -inf)
    ref = np.moveaxis(ref.astype(dtype).astype(np.float64), -1, dim)
    assert not np.isnan(sm).any() and not np.isnan(lsm).any()
    assert (sm >= 0).all() and (sm <= 1).all() and (lsm <= 0).all()
    assert_close(sm, np.exp(ref), dtype, scale=1.0, what="softmax")
    assert_close(lsm, ref, dtype, what="log_softmax")
    if x.size:
        np.testing.assert_allclose(np.moveaxis(sm, dim, -1).sum(-1, dtype=np.float64), 1,
                                   rtol=0, atol=x.shape[dim] * 2 * tol(dtype))


# ---------------------------------------------------------------------------
# elementwise losses
# ---------------------------------------------------------------------------

@st.composite
def elementwise_problem(draw, max_scale=1e3):
    dtype = draw(DTYPES)
    ndim = draw(st.sampled_from([0, 1, 2, 2, 3, 4]))
    dims = [draw(st.sampled_from([0, 1, 2, 3, 5, 40])) if i == 0 else
            draw(st.sampled_from([1, 2, 3, 6])) for i in range(ndim)]
    if ndim == 2 and draw(st.booleans()):
        dims[1] = 300
    rng = rng_of(draw)
    scale = draw(st.sampled_from([0.1, 1.0, 10.0, max_scale]))
    x = (rng.standard_normal(dims) * scale).astype(dtype)
    return x, rng


def elementwise_weights(draw, rng, x):
    sw = None
    if x.ndim >= 1 and draw(st.booleans()):
        sw = rng.uniform(0, 2, x.shape[0])
    return sw


def assert_elementwise(loss, grad, rows, g, x, sw, reduction, dtype):
    per_sample = x.size // x.shape[0] if x.ndim and x.shape[0] else (1 if x.ndim == 0 else 0)
    s = np.ones(x.shape) if sw is None else \
        sw.reshape((-1,) + (1,) * (x.ndim - 1)) * np.ones(x.shape)
    rows, g = rows * s, g * s
    if dtype == np.float32:
        # element losses are formed in the input's dtype (sums in float64): a
        # weighted element loss beyond float32's range is inf, as in torch
        rows = np.where(np.abs(rows) > np.finfo(np.float32).max, np.inf, rows)
    divisor = float(x.size) if sw is None else float(sw.sum()) * per_sample
    assert_reduced(loss, rows, reduction, divisor, dtype)
    assert grad.shape == x.shape and grad.dtype == dtype
    if reduction == "mean":
        if divisor == 0:
            return
        g = g / divisor
    assert_close(grad, g, dtype, scale=max(float(np.abs(g).max(initial=0)), 1e-300),
                 what="grad")


@settings(max_examples=examples(100))
@given(data=st.data(), prob=elementwise_problem(max_scale=1e300))
def test_binary_cross_entropy_with_logits(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    x = np.clip(x, -max_abs(dtype), max_abs(dtype)).astype(dtype)
    y = rng.uniform(0, 1, x.shape)
    if draw(st.booleans()):
        y = np.round(y)
    y = y.astype(dtype)
    weight = rng.uniform(0, 2, x.shape[-1:] if x.ndim else ()) if draw(st.booleans()) else None
    pos_weight = rng.uniform(0.1, 3, x.shape[-1:] if x.ndim else ()) \
        if draw(st.booleans()) else None
    sw = elementwise_weights(draw, rng, x)
    reduction = draw(REDUCTIONS)
    xl, yl = draw(layout_of(x)), draw(layout_of(y))

    def run(k):
        return L.binary_cross_entropy_with_logits(
            xl, yl, weight=weight, pos_weight=pos_weight, reduction=reduction,
            sample_weight=sw, n_threads=k, return_grad=True)
    loss, grad = check_threads(run)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    # the input's rounding of the weights (the kernel works in the input's dtype)
    w = 1.0 if weight is None else weight.astype(dtype).astype(np.float64)
    pw = 1.0 if pos_weight is None else pos_weight.astype(dtype).astype(np.float64)
    from scipy.special import expit
    with np.errstate(over="ignore"):
        rows = w * (pw * yd * np.logaddexp(0, -xd) + (1 - yd) * np.logaddexp(0, xd))
        g = w * ((1 - yd) * expit(xd) - pw * yd * expit(-xd))
    assert_elementwise(loss, grad, rows, g, x, sw, reduction, dtype)
    assert np.isfinite(grad).all() or (reduction == "mean" and x.size == 0)


@settings(max_examples=examples(80))
@given(data=st.data(), prob=elementwise_problem())
def test_hinge_loss(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    zero_one = draw(st.booleans())
    y = rng.integers(0, 2, x.shape)
    if not zero_one:
        y = 2 * y - 1
    y = y.astype(draw(st.sampled_from([np.int64, np.float32, np.float64, np.int8])))
    squared = draw(st.booleans())
    margin = draw(st.sampled_from([1.0, 0.0, 0.5, -1.0]))
    sw = elementwise_weights(draw, rng, x)
    reduction = draw(REDUCTIONS)
    xl, yl = draw(layout_of(x)), draw(layout_of(y))

    def run(k):
        return L.hinge_loss(xl, yl, squared=squared, margin=margin, reduction=reduction,
                            sample_weight=sw, n_threads=k, return_grad=True)
    loss, grad = check_threads(run)
    ys = np.where(y.astype(np.float64) == 0, -1.0, y.astype(np.float64))
    h = np.maximum(0.0, margin - ys * x.astype(np.float64))
    rows = h ** 2 if squared else h
    g = np.where(h > 0, -ys * (2 * h if squared else 1.0), 0.0)
    assert_elementwise(loss, grad, rows, g, x, sw, reduction, dtype)


@settings(max_examples=examples(80))
@given(data=st.data(), prob=elementwise_problem(max_scale=1e100))
def test_mse_loss(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    if dtype == np.float32:
        x = np.clip(x, -1e15, 1e15).astype(dtype)   # squares stay finite in float32
    y = (rng.standard_normal(x.shape) * draw(st.sampled_from([0.0, 1.0, 100.0]))).astype(dtype)
    sw = elementwise_weights(draw, rng, x)
    reduction = draw(REDUCTIONS)
    xl, yl = draw(layout_of(x)), draw(layout_of(y))
    loss, grad = check_threads(lambda k: L.mse_loss(
        xl, yl, reduction=reduction, sample_weight=sw, n_threads=k, return_grad=True))
    r = x.astype(np.float64) - y.astype(np.float64)
    assert_elementwise(loss, grad, r * r, 2 * r, x, sw, reduction, dtype)


@settings(max_examples=examples(80))
@given(data=st.data(), prob=elementwise_problem(max_scale=1e30))
def test_huber_loss(data, prob):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    y = (rng.standard_normal(x.shape) * draw(st.sampled_from([0.0, 1.0, 10.0]))).astype(dtype)
    delta = draw(st.sampled_from([1.0, 0.1, 5.0, 1e-3]))
    sw = elementwise_weights(draw, rng, x)
    reduction = draw(REDUCTIONS)
    xl, yl = draw(layout_of(x)), draw(layout_of(y))
    loss, grad = check_threads(lambda k: L.huber_loss(
        xl, yl, reduction=reduction, delta=delta, sample_weight=sw, n_threads=k,
        return_grad=True))
    r = x.astype(np.float64) - y.astype(np.float64)
    small = np.abs(r) < delta
    rows = np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))
    g = np.where(small, r, delta * np.sign(r))
    assert_elementwise(loss, grad, rows, g, x, sw, reduction, dtype)


# ---------------------------------------------------------------------------
# multi-class margin losses
# ---------------------------------------------------------------------------

@settings(max_examples=examples(120))
@given(data=st.data(), prob=class_problem(ndim=2, extreme=False),
       kind=st.sampled_from(["weston_watkins", "crammer_singer"]), p=st.sampled_from([1, 2]))
def test_multi_margin_loss(data, prob, kind, p):
    draw = data.draw
    x, rng = prob
    dtype = x.dtype.type
    if x.shape[0] and draw(st.booleans()):
        x = x[0]   # unbatched (C,)
    n, C = (1, x.shape[0]) if x.ndim == 1 else x.shape
    t = rng.integers(0, C, () if x.ndim == 1 else (n,))
    margin = draw(st.sampled_from([1.0, 0.5, 0.0, 2.5]))
    weight = class_weights(draw, rng, C)
    sw = sample_weights(draw, rng, n) if x.ndim == 2 else None
    reduction = draw(REDUCTIONS)
    xl = draw(layout_of(x))

    def run(k):
        return L.multi_margin_loss(xl, t, p=p, margin=margin, weight=weight,
                                   reduction=reduction, kind=kind, sample_weight=sw,
                                   n_threads=k, return_grad=True)
    loss, grad = check_threads(run)
    xr = np.atleast_2d(x).astype(np.float64)
    tr = np.atleast_1d(t)
    w = np.ones(C) if weight is None else weight
    s = np.ones(n) if sw is None else sw
    rows = np.zeros(n)
    g = np.zeros_like(xr)
    for i in range(n):
        y = tr[i]
        others = [j for j in range(C) if j != y]
        if kind == "weston_watkins":
            for j in others:
                h = margin - xr[i, y] + xr[i, j]
                if h > 0:
                    rows[i] += w[y] * h ** p / C
                    d = w[y] * (p * h ** (p - 1)) / C
                    g[i, j] += d
                    g[i, y] -= d
        elif others:
            j = others[int(np.argmax(xr[i, others]))]   # first highest wrong class
            h = margin + xr[i, j] - xr[i, y]
            if h > 0:
                rows[i] = w[y] * h ** p
                d = w[y] * p * h ** (p - 1)
                g[i, j] += d
                g[i, y] -= d
    rows, g = rows * s, g * s[:, None]
    divisor = float(n) if sw is None else float(sw.sum())
    assert_reduced(loss, rows.reshape(()) if (x.ndim == 1 and reduction == "none") else rows,
                   reduction, divisor, dtype)
    if not (reduction == "mean" and divisor == 0):
        if reduction == "mean":
            g = g / divisor
        assert_close(np.atleast_2d(grad), g, dtype, what="grad")
    assert grad.shape == x.shape and grad.dtype == dtype


# ---------------------------------------------------------------------------
# NT-Xent
# ---------------------------------------------------------------------------

def ref_nt_xent(a, b, temperature, normalize):
    """Per-row losses and the gradient of their sum with respect to a and b."""
    u = np.concatenate([a, b]).astype(np.longdouble)
    m, N = len(u), len(a)
    if normalize:
        norm = np.sqrt((u * u).sum(axis=1, keepdims=True))
        z = u / norm
    else:
        z = u
    S = z @ z.T / temperature
    np.fill_diagonal(S, -np.inf)
    pos = (np.arange(m) + N) % m
    mx = S.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(S - mx).sum(axis=1))
    rows = lse - S[np.arange(m), pos]
    P = np.exp(S - lse[:, None])
    G = P.copy()
    G[np.arange(m), pos] -= 1
    gz = (G + G.T) @ z / temperature
    if normalize:
        gz = (gz - z * (z * gz).sum(axis=1, keepdims=True)) / norm
    gz = gz.astype(np.float64)
    return rows.astype(np.float64), gz[:N], gz[N:]


@settings(max_examples=examples(60))
@given(data=st.data(), dtype=DTYPES, N=st.sampled_from([1, 2, 3, 17, 40]),
       D=st.sampled_from([1, 2, 8, 33]), normalize=st.booleans(),
       temperature=st.sampled_from([0.05, 0.1, 0.5, 1.0, 4.0]), reduction=REDUCTIONS)
def test_nt_xent(data, dtype, N, D, normalize, temperature, reduction):
    rng = rng_of(data.draw)
    scale = data.draw(st.sampled_from([1.0, 1e-3, 1e3] if normalize else [0.1, 1.0]))
    a = (rng.standard_normal((N, D)) * scale).astype(dtype)
    b = (rng.standard_normal((N, D)) * scale).astype(dtype)
    if D == 1:
        a[a == 0] = 1
        b[b == 0] = 1
    al, bl = data.draw(layout_of(a)), data.draw(layout_of(b))
    loss, (ga, gb) = check_threads(lambda k: L.nt_xent(
        al, bl, temperature=temperature, normalize=normalize, reduction=reduction,
        n_threads=k, return_grad=True))
    rows, ra, rb = ref_nt_xent(a, b, temperature, normalize)
    # float32: S = z z^T / T carries errors ~ eps32 / T, amplified by the exp
    loose = 1 if dtype == np.float64 else 1 + 1 / temperature
    assert_reduced(loss, rows, reduction, 2 * N, dtype) if loose == 1 else None
    if reduction == "none":
        got = np.asarray(loss, np.float64)
    else:
        got = float(loss) * (2 * N if reduction == "mean" else 1)
        rows = rows.sum()
    err = np.abs(got - rows)
    assert (err <= loose * tol(dtype) * (np.abs(rows) + max(1.0, np.abs(rows).max()))).all()
    scale_g = 1.0 / (2 * N) if reduction == "mean" else 1.0
    gmax = max(float(np.abs(np.concatenate([ra, rb])).max()) * scale_g, 1e-300)
    for got_g, ref_g in ((ga, ra), (gb, rb)):
        assert got_g.shape == (N, D) and got_g.dtype == dtype
        err = np.abs(got_g.astype(np.float64) - ref_g * scale_g)
        assert (err <= loose * 10 * tol(dtype) * (np.abs(ref_g * scale_g) + gmax)).all()
    if N == 1:
        assert np.all(np.asarray(loss) == 0)


# ---------------------------------------------------------------------------
# empty batches: skce's documented (torch's) convention
# ---------------------------------------------------------------------------

@settings(max_examples=examples(30))
@given(dtype=DTYPES, C=N_CLASSES, data=st.data())
def test_empty_batch_conventions(dtype, C, data):
    x = data.draw(layout_of(np.zeros((0, C), dtype)))
    t = np.zeros(0, np.int64)
    calls = [
        lambda r: L.cross_entropy(x, t, reduction=r, return_grad=True),
        lambda r: L.cross_entropy(x, x.copy(), reduction=r, return_grad=True),
        lambda r: L.nll_loss(x, t, reduction=r, return_grad=True),
        lambda r: L.multi_margin_loss(x, t, reduction=r, return_grad=True),
        lambda r: L.multi_margin_loss(x, t, reduction=r, kind="crammer_singer",
                                      return_grad=True),
        lambda r: L.binary_cross_entropy_with_logits(x, x.copy(), reduction=r,
                                                     return_grad=True),
        lambda r: L.hinge_loss(x, t.reshape(0, 1) * np.ones((0, C)), reduction=r,
                               return_grad=True),
        lambda r: L.mse_loss(x, x.copy(), reduction=r, return_grad=True),
        lambda r: L.huber_loss(x, x.copy(), reduction=r, return_grad=True),
    ]
    for call in calls:
        mean, g = call("mean")
        assert np.isnan(mean) and g.shape == x.shape and g.dtype == dtype
        total, g = call("sum")
        assert total == 0.0
        none, g = call("none")
        assert none.size == 0 and none.shape[0] == 0
    assert L.softmax(x, dim=1).shape == (0, C)
    assert L.log_softmax(x, dim=0).shape == (0, C)
