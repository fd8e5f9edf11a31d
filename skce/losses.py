"""Loss functions with the names and semantics of torch.nn.functional
(plus binary hinge and Crammer-Singer multi-class hinge).

Each returns the loss, or ``(loss, grad)`` with ``return_grad=True``, where
``grad`` has the input's shape and dtype and is the gradient of the reduced
loss (for ``reduction="none"``: of the sum of the per-element losses),
computed in the same pass as the loss by OpenMP-parallel C kernels.

Extensions over PyTorch:

* ``sample_weight`` (one weight per sample, i.e. per row of the first axis)
  multiplies each sample's loss; ``reduction="mean"`` then divides by the sum
  of sample weights times what PyTorch divides by per sample (the target's
  class weight for class-index targets, else the number of elements).
* ``n_threads``: None uses every thread OpenMP offers (honouring
  ``OMP_NUM_THREADS`` and ``threadpoolctl``), capped at the number of CPUs
  and of rows.  Results are bitwise identical for any thread count.

float32 input stays float32 (no up-cast copy); sums accumulate in float64.
"""
import numpy as np

from skce._loss import _elementwise, _margin, _ntxent, _softmax
from skce._config import effective_n_threads
from skce._validation import (
    check_broadcast_weight,
    check_choice,
    check_finite,
    check_float_array,
    check_index_target,
    check_reduction,
    check_scalar,
    check_target_like,
    check_weight_vector,
    empty_like_n_c_d,
    readable,
    view_n_c_d,
    view_n_r_l,
)

__all__ = [
    "cross_entropy",
    "nll_loss",
    "softmax",
    "log_softmax",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "sigmoid",
    "log_sigmoid",
    "hinge_embedding_loss",
    "multi_margin_loss",
    "hinge_loss",
    "mse_loss",
    "huber_loss",
    "nt_xent",
    # torch.nn-style modules
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "MSELoss",
    "HuberLoss",
    "HingeEmbeddingLoss",
    "MultiMarginLoss",
    "Softmax",
    "LogSoftmax",
    "Sigmoid",
    "LogSigmoid",
]


def _reduce(total, divisor, reduction, loss_rows, out_shape):
    """The value a loss function returns for `reduction`."""
    if reduction == "none":
        return loss_rows.reshape(out_shape)
    if reduction == "sum":
        return float(total)
    return float(total) / divisor if divisor != 0 else float("nan")


def _grad_scale(reduction, divisor):
    if reduction != "mean":
        return 1.0
    return 1.0 / divisor if divisor != 0 else float("nan")


class _ClassProblem:
    """Validated input of a softmax-family loss, viewed as (n, C, D)."""

    def __init__(self, input, weight, sample_weight, reduction, n_threads):
        x = check_float_array(input, "input")
        if x.ndim == 0:
            raise ValueError("input must have shape (C,), (n, C) or (n, C, d1, ..., dK); "
                             "got a scalar")
        self.input_shape = x.shape
        self.unbatched = x.ndim == 1
        self.x = x[np.newaxis] if self.unbatched else x
        self.n, self.n_classes = self.x.shape[:2]
        if self.n_classes == 0:
            raise ValueError(f"input has no classes (shape {x.shape}); the class axis "
                             "(axis 1, or 0 for unbatched input) must not be empty")
        self.pos_shape = self.x.shape[2:]
        self.n_pos = int(np.prod(self.pos_shape, dtype=np.int64))
        self.x3 = view_n_c_d(self.x)
        self.weight = check_weight_vector(weight, "weight", self.n_classes, "class")
        self.sample_weight = check_weight_vector(
            sample_weight, "sample_weight", self.n, "sample (row of input)")
        self.reduction = check_reduction(reduction)
        self.n_threads = effective_n_threads(n_threads, work=self.n * self.n_pos)
        # torch's reduction='none' output shape
        self.row_shape = () if self.unbatched else (self.n,) + self.pos_shape

    def index_target(self, target, ignore_index):
        expected = self.row_shape
        t = check_index_target(target, expected, self.input_shape)
        t2 = t.reshape(1, 1) if self.unbatched else t.reshape(self.n, self.n_pos)
        wsum, bad = _softmax.index_target_weight_sum(
            t2, self.n_classes, self.weight, self.sample_weight, ignore_index, self.n_threads)
        if bad >= 0:
            value = t2.reshape(-1)[bad]
            raise ValueError(
                f"target contains class index {value}, outside [0, {self.n_classes - 1}] "
                f"for input with {self.n_classes} classes (ignore_index={ignore_index}); "
                "encode labels as 0..C-1, e.g. with sklearn.preprocessing.LabelEncoder"
            )
        return t2, wsum

    def outputs(self, return_grad):
        rows = np.empty(self.n * self.n_pos, dtype=self.x.dtype) \
            if self.reduction == "none" else None
        grad = grad3 = None
        if return_grad:
            grad, grad3 = empty_like_n_c_d(self.x)
        return rows, grad, grad3

    def finish(self, total, divisor, rows, grad, return_grad):
        loss = _reduce(total, divisor, self.reduction, rows, self.row_shape)
        if not return_grad:
            return loss
        if self.unbatched:
            grad = grad[0]
        return loss, grad


def cross_entropy(input, target, *, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, sample_weight=None, n_threads=None, return_grad=False):
    """Cross-entropy between logits and targets, as ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    input : array of shape (C,), (n, C) or (n, C, d1, ..., dK), float32 or float64
        Unnormalized logits.  Any memory layout; copied only when the kernels
        cannot read it in place (negative strides, strides that are not a
        multiple of the item size, misaligned data; a DataCopyWarning above
        16 MB).
    target : array
        Class indices (integers) of shape (), (n,) or (n, d1, ..., dK), or
        class probabilities (floats) of the input's shape.
    weight : array of shape (C,), optional
        Per-class weights.
    ignore_index : int
        Class-index targets equal to it contribute nothing (nor to the 'mean' divisor).
    reduction : {"none", "mean", "sum"}
    label_smoothing : float in [0, 1]
    sample_weight : array of shape (n,), optional
    n_threads : int, optional
    return_grad : bool

    Returns
    -------
    loss : float, or array of shape (n, d1, ..., dK) for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    p = _ClassProblem(input, weight, sample_weight, reduction, n_threads)
    eps = check_scalar(label_smoothing, "label_smoothing", 0.0, 1.0)
    rows, grad, grad3 = p.outputs(return_grad)
    t = np.asarray(target)
    if t.dtype.kind == "f":
        # PyTorch: a negative ignore_index is unused with probability targets,
        # a class number is refused.
        if ignore_index >= 0:
            raise ValueError(
                f"ignore_index={ignore_index!r} cannot be used with class-probability targets "
                "(as in PyTorch); give ignored rows zero sample_weight instead")
        if t.shape != p.input_shape:
            raise ValueError(
                f"target of class probabilities must have the input's shape {p.input_shape}; "
                f"got {t.shape}. Class-index targets must be integers")
        check_finite(t, "target")
        y = t[np.newaxis] if p.unbatched else t
        y3 = view_n_c_d(readable(y.astype(p.x.dtype, copy=False), "target"))
        total = _softmax.class_loss(
            _softmax.CE_PROB, p.x3, None, y3, p.weight, p.sample_weight, -100, eps,
            _grad_scale(p.reduction, _prob_divisor(p)), rows, grad3, p.n_threads)
        return p.finish(total, _prob_divisor(p), rows, grad, return_grad)
    ignore_index = _check_ignore_index(ignore_index)
    t2, wsum = p.index_target(t, ignore_index)
    total = _softmax.class_loss(
        _softmax.CE_INDEX, p.x3, t2, None, p.weight, p.sample_weight, ignore_index, eps,
        _grad_scale(p.reduction, wsum), rows, grad3, p.n_threads)
    return p.finish(total, wsum, rows, grad, return_grad)


def _prob_divisor(p):
    """'mean' divisor of probability targets: the number of rows (weighted)."""
    n_rows = p.n * p.n_pos
    if p.sample_weight is None:
        return float(n_rows)
    return float(p.sample_weight.sum()) * p.n_pos


def _check_ignore_index(ignore_index):
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an int; got {ignore_index!r}")
    if not -2**63 <= int(ignore_index) < 2**63:
        raise ValueError(f"ignore_index={ignore_index} is outside the int64 range of class "
                         "indices; use a negative int64 such as the default -100")
    return int(ignore_index)


def nll_loss(input, target, *, weight=None, ignore_index=-100, reduction="mean",
             sample_weight=None, n_threads=None, return_grad=False):
    """Negative log-likelihood of log-probabilities, as ``torch.nn.functional.nll_loss``.

    Parameters
    ----------
    input : array of shape (C,), (n, C) or (n, C, d1, ..., dK), float32 or float64
        Log-probabilities (e.g. from :func:`log_softmax`); any memory layout,
        as in :func:`cross_entropy`.
    target : array of shape (), (n,) or (n, d1, ..., dK)
        Class indices (integers).
    weight : array of shape (C,), optional
        Per-class weights.
    ignore_index : int, default=-100
        Targets equal to it contribute nothing (nor to the 'mean' divisor).
    reduction : {"none", "mean", "sum"}, default="mean"
        'mean' divides by the sum of the target classes' weights (times
        sample_weight), as torch.
    sample_weight : array of shape (n,), optional
    n_threads : int, optional
    return_grad : bool, default=False

    Returns
    -------
    loss : float, or array of shape (n, d1, ..., dK) for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    p = _ClassProblem(input, weight, sample_weight, reduction, n_threads)
    ignore_index = _check_ignore_index(ignore_index)
    t2, wsum = p.index_target(target, ignore_index)
    rows, grad, grad3 = p.outputs(return_grad)
    total = _softmax.class_loss(
        _softmax.NLL, p.x3, t2, None, p.weight, p.sample_weight, ignore_index, 0.0,
        _grad_scale(p.reduction, wsum), rows, grad3, p.n_threads)
    return p.finish(total, wsum, rows, grad, return_grad)


def _softmax_any(input, dim, n_threads, log_output):
    x = check_float_array(input, "input")
    if x.ndim == 0:
        raise ValueError("input must have at least one dimension")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int; got {dim!r}")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim={dim} is out of range for input with {x.ndim} dimensions")
    dim = int(dim) % x.ndim
    out = np.empty(x.shape, dtype=x.dtype)
    if x.size == 0:
        return out
    # (before, C, after): a view for contiguous input
    shape3 = (int(np.prod(x.shape[:dim], dtype=np.int64)), x.shape[dim],
              int(np.prod(x.shape[dim + 1:], dtype=np.int64)))
    _softmax.softmax(x.reshape(shape3), out.reshape(shape3), log_output,
                     effective_n_threads(n_threads, work=shape3[0] * shape3[2]))
    return out


def softmax(input, dim=-1, *, n_threads=None):
    """Softmax along `dim`, computed stably (max subtracted); never NaN for
    finite input, as ``torch.softmax``.

    Parameters
    ----------
    input : float32 or float64 array with at least one dimension
    dim : int, default=-1
    n_threads : int, optional

    Returns
    -------
    out : array of the input's shape and dtype
        Non-negative, summing to 1 along `dim`.
    """
    return _softmax_any(input, dim, n_threads, False)


def log_softmax(input, dim=-1, *, n_threads=None):
    """Log-softmax along `dim`: (x - max) - log(sum(exp(x - max))), as
    ``torch.log_softmax``; finite where softmax underflows to 0.

    Parameters
    ----------
    input : float32 or float64 array with at least one dimension
    dim : int, default=-1
    n_threads : int, optional

    Returns
    -------
    out : array of the input's shape and dtype
    """
    return _softmax_any(input, dim, n_threads, True)


# ---------------------------------------------------------------------------
# Elementwise losses: BCE with logits, MSE, Huber, binary hinge
# ---------------------------------------------------------------------------

class _ElementwiseProblem:
    """Validated input and target of an elementwise loss, viewed as (n, R, L)."""

    def __init__(self, input, target, sample_weight, reduction, n_threads, labels=False):
        self.x = x = check_float_array(input, "input")
        self.y = check_target_like(target, x, labels=labels)
        self.reduction = check_reduction(reduction)
        self.n_threads = effective_n_threads(n_threads, work=max(1, x.size // 16384))
        self.n = x.shape[0] if x.ndim else 1
        if sample_weight is not None and x.ndim == 0:
            raise ValueError("sample_weight needs an input with a sample axis (ndim >= 1); "
                             "got a scalar input")
        self.sample_weight = check_weight_vector(
            sample_weight, "sample_weight", self.n, "sample (row of input's first axis)")
        self.per_sample = x.size // self.n if self.n else 0
        if self.sample_weight is None:
            self.divisor = float(x.size)
        else:
            self.divisor = float(self.sample_weight.sum()) * self.per_sample

    def run(self, kind, weight=None, pos_weight=None, return_grad=False,
            margin=0.0, delta=0.0, squared=False):
        """(total, label flags, reduced loss, grad) from one kernel pass."""
        x, sw = self.x, self.sample_weight
        if sw is not None and self.per_sample == 1:
            # one element per sample: the sample weights are element weights
            swx = sw.astype(x.dtype).reshape(x.shape)
            weight = swx if weight is None else weight * swx
            sw = None
        rows = np.empty(x.size, dtype=x.dtype) if self.reduction == "none" else None
        grad = grad3 = None
        if return_grad:
            # an (n, R, L) view of it always exists
            grad = np.empty_like(x) if x.ndim <= 3 else np.empty(x.shape, dtype=x.dtype)
            grad3 = view_n_r_l(grad)
        total, flags = _elementwise.elementwise(
            kind, view_n_r_l(x), view_n_r_l(self.y),
            None if weight is None else view_n_r_l(weight),
            None if pos_weight is None else view_n_r_l(pos_weight),
            sw, _grad_scale(self.reduction, self.divisor), margin, delta, squared,
            rows, grad3, self.n_threads)
        return total, flags, rows, grad

    def finish(self, total, rows, grad, return_grad, check_target=True):
        if check_target and not np.isfinite(total):
            # a NaN/inf target makes some element loss non-finite: look only then
            check_finite(self.y, "target")
        loss = _reduce(total, self.divisor, self.reduction, rows, self.x.shape)
        return (loss, grad) if return_grad else loss


def binary_cross_entropy_with_logits(input, target, *, weight=None, pos_weight=None,
                                     reduction="mean", sample_weight=None, n_threads=None,
                                     return_grad=False):
    """Binary cross-entropy on logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``.

    loss = -w [pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], computed
    without overflow for any finite logit (loss and gradient stay finite for
    |x| up to the dtype's maximum).

    Parameters
    ----------
    input : float32 or float64 array of any shape
        Logits.  Any memory layout (copied only when unreadable in place,
        as in cross_entropy).
    target : float array of the input's shape
        Targets, usually in [0, 1].
    weight : array broadcastable to the input's shape, optional
        Element weights (non-negative).
    pos_weight : array broadcastable to the input's shape, optional
        Weight of the positive term; usually shape (L,) for the last axis.
    reduction : {"none", "mean", "sum"}
        'mean' divides by the number of elements (with sample_weight: by
        sum(sample_weight) times the elements per sample).
    sample_weight : array of shape (n,), optional
        Multiplies the losses of each sample (row of the first axis).
    n_threads : int, optional
    return_grad : bool

    Returns
    -------
    loss : float, or array of the input's shape for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    prob = _ElementwiseProblem(input, target, sample_weight, reduction, n_threads)
    w = check_broadcast_weight(weight, "weight", prob.x)
    pw = check_broadcast_weight(pos_weight, "pos_weight", prob.x)
    total, _, rows, grad = prob.run(_elementwise.BCE, weight=w, pos_weight=pw,
                                    return_grad=return_grad)
    return prob.finish(total, rows, grad, return_grad)


def binary_cross_entropy(input, target, *, weight=None, reduction="mean", sample_weight=None,
                         n_threads=None, return_grad=False):
    """Binary cross-entropy on probabilities, as
    ``torch.nn.functional.binary_cross_entropy``.

    loss = -w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)]: as in
    PyTorch each log is clamped at -100, so p = 0 or 1 gives a finite loss,
    and the gradient is PyTorch's, w (p - y) / max((1 - p) p, eps) with
    eps = float32(1e-12) as in PyTorch (also for float64).

    Probabilities that come from a sigmoid lose precision near 0 and 1 and
    the clamp then caps the loss; on logits use
    :func:`binary_cross_entropy_with_logits`, which is exact for any logit.

    Parameters
    ----------
    input : float32 or float64 array of any shape
        Probabilities in [0, 1].  Any memory layout; never copied.
    target, weight, reduction, sample_weight, n_threads, return_grad
        As for :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or array of the input's shape for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)

    Raises
    ------
    ValueError
        If an input value lies outside [0, 1] or is NaN.
    """
    prob = _ElementwiseProblem(input, target, sample_weight, reduction, n_threads)
    w = check_broadcast_weight(weight, "weight", prob.x)
    total, flags, rows, grad = prob.run(_elementwise.BCE_PROB, weight=w,
                                        return_grad=return_grad)
    if flags & _elementwise.PROB_INVALID:
        x = prob.x
        bad = x[~((x >= 0) & (x <= 1))]
        raise ValueError(f"input must hold probabilities in [0, 1]; found {bad.flat[0]!r}. "
                         "Apply sigmoid first, or pass logits to "
                         "binary_cross_entropy_with_logits")
    return prob.finish(total, rows, grad, return_grad)


def _sigmoid_any(input, n_threads, log_output):
    x = check_float_array(input, "input")
    # one pass over a flat view (a copy only for non-contiguous input)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(x.shape, dtype=x.dtype)
    _elementwise.sigmoid(flat, out.reshape(-1), log_output, effective_n_threads(n_threads))
    return out


def sigmoid(input, *, n_threads=None):
    """Logistic function 1 / (1 + exp(-x)), as ``torch.sigmoid``.

    Computed from exp(-|x|), so it never overflows, and as exp(x) / (1 + exp(x))
    for x < 0, so small values keep full relative precision; float32 stays
    float32.

    Parameters
    ----------
    input : float32 or float64 array
    n_threads : int, optional

    Returns
    -------
    array of the input's shape and dtype
    """
    return _sigmoid_any(input, n_threads, False)


def log_sigmoid(input, *, n_threads=None):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), as
    ``torch.nn.functional.logsigmoid``: finite for any finite x (about x for
    very negative x, about -exp(-x) for large x); float32 stays float32.

    Parameters
    ----------
    input : float32 or float64 array of any shape
    n_threads : int, optional

    Returns
    -------
    out : array of the input's shape and dtype
    """
    return _sigmoid_any(input, n_threads, True)


def hinge_embedding_loss(input, target, *, margin=1.0, reduction="mean", sample_weight=None,
                         n_threads=None, return_grad=False):
    """Hinge embedding loss, as ``torch.nn.functional.hinge_embedding_loss``:
    x where y = 1, max(0, margin - x) where y = -1.

    Parameters
    ----------
    input : float32 or float64 array of any shape
        Usually distances.  Any memory layout; never copied.
    target : array of the input's shape
        Labels -1 or +1 (any real dtype).
    margin : float (finite)
    reduction : {"none", "mean", "sum"}
        'mean' divides by the number of elements (with sample_weight: by
        sum(sample_weight) times the elements per sample).
    sample_weight : array of shape (n,), optional
    n_threads : int, optional
    return_grad : bool

    Returns
    -------
    loss : float, or array of the input's shape for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True);
        as torch's autograd, -1 (not 0) where y = -1 and x = margin exactly.
    """
    margin = check_scalar(margin, "margin")
    prob = _ElementwiseProblem(input, target, sample_weight, reduction, n_threads,
                               labels=True)
    total, flags, rows, grad = prob.run(_elementwise.HINGE_EMBEDDING, return_grad=return_grad,
                                        margin=margin)
    if flags & _elementwise.LABEL_INVALID:
        y = prob.y
        bad = y[~((y == 1) | (y == -1))]
        raise ValueError(f"target must hold labels -1 or +1; found {bad.flat[0]!r}. "
                         "Encode similar pairs as +1 and dissimilar ones as -1")
    return prob.finish(total, rows, grad, return_grad, check_target=False)


def mse_loss(input, target, *, reduction="mean", sample_weight=None, n_threads=None,
             return_grad=False):
    """Squared error (x - y)^2, as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    input : float32 or float64 array of any shape
        Any layout (copied only when unreadable in place, as in
        :func:`cross_entropy`).
    target : array of the input's shape
        Finite reals.
    reduction : {"none", "mean", "sum"}, default="mean"
        'mean' divides by the number of elements (with sample_weight: by
        sum(sample_weight) times the elements per sample).
    sample_weight : array of shape (n,), optional
        Multiplies each sample's (first axis) losses.
    n_threads : int, optional
        OpenMP threads (None: skce's default, see threadpoolctl / show_config).
    return_grad : bool, default=False
        Also return the gradient with respect to ``input``.

    Returns
    -------
    loss : float, or array of the input's shape for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    prob = _ElementwiseProblem(input, target, sample_weight, reduction, n_threads)
    total, _, rows, grad = prob.run(_elementwise.MSE, return_grad=return_grad)
    return prob.finish(total, rows, grad, return_grad)


def huber_loss(input, target, *, reduction="mean", delta=1.0, sample_weight=None,
               n_threads=None, return_grad=False):
    """Huber loss, as ``torch.nn.functional.huber_loss``: with r = x - y,
    0.5 r^2 where |r| < delta, else delta (|r| - 0.5 delta).

    Parameters
    ----------
    input : float32 or float64 array of any shape
    target : array of the input's shape
        Finite reals.
    delta : float > 0, default=1.0
        Where the loss turns from quadratic to linear.
    reduction : {"none", "mean", "sum"}, default="mean"
        'mean' divides by the number of elements (with sample_weight: by
        sum(sample_weight) times the elements per sample).
    sample_weight : array of shape (n,), optional
        Multiplies each sample's (first axis) losses.
    n_threads : int, optional
        OpenMP threads (None: skce's default, see threadpoolctl / show_config).
    return_grad : bool, default=False
        Also return the gradient with respect to ``input``.

    Returns
    -------
    loss : float, or array of the input's shape for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    delta = check_scalar(delta, "delta", 0.0, None, low_inclusive=False)
    prob = _ElementwiseProblem(input, target, sample_weight, reduction, n_threads)
    total, _, rows, grad = prob.run(_elementwise.HUBER, return_grad=return_grad, delta=delta)
    return prob.finish(total, rows, grad, return_grad)


def hinge_loss(input, target, *, squared=False, margin=1.0, reduction="mean",
               sample_weight=None, n_threads=None, return_grad=False):
    """Elementwise binary hinge loss max(0, margin - y x) (its square with
    ``squared=True``) for labels y in {-1, +1} or {0, 1} (0 is read as -1).

    The subgradient where the margin is met exactly is 0.

    Parameters
    ----------
    input : float32 or float64 array of any shape
        Decision values, any layout.
    target : array of the input's shape
        Labels -1 / +1 or 0 / 1 (any real dtype).
    squared : bool, default=False
        max(0, margin - y x)^2 instead.
    margin : float (finite), default=1.0
    reduction : {"none", "mean", "sum"}, default="mean"
        'mean' divides by the number of elements (with sample_weight: by
        sum(sample_weight) times the elements per sample).
    sample_weight : array of shape (n,), optional
        Multiplies each sample's (first axis) losses.
    n_threads : int, optional
        OpenMP threads (None: skce's default, see threadpoolctl / show_config).
    return_grad : bool, default=False
        Also return the gradient with respect to ``input``.

    Returns
    -------
    loss : float, or array of the input's shape for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    if not isinstance(squared, (bool, np.bool_)):
        raise TypeError(f"squared must be True or False; got {squared!r}")
    margin = check_scalar(margin, "margin")
    prob = _ElementwiseProblem(input, target, sample_weight, reduction, n_threads,
                               labels=True)
    total, flags, rows, grad = prob.run(_elementwise.HINGE, return_grad=return_grad,
                                        margin=margin, squared=bool(squared))
    if flags & _elementwise.LABEL_INVALID:
        y = prob.y
        bad = y[~((y == 1) | (y == 0) | (y == -1))]
        raise ValueError(f"target must hold labels -1/+1 or 0/1; found {bad.flat[0]!r}. "
                         "Encode the two classes as -1/+1 (or 0/1)")
    if flags & _elementwise.LABEL_ZERO and flags & _elementwise.LABEL_MINUS_ONE:
        raise ValueError("target mixes the labels 0 and -1; use either {-1, +1} or {0, 1}")
    return prob.finish(total, rows, grad, return_grad, check_target=False)


# ---------------------------------------------------------------------------
# Multi-class margin losses
# ---------------------------------------------------------------------------

MARGIN_KINDS = ("weston_watkins", "crammer_singer")


def multi_margin_loss(input, target, *, p=1, margin=1.0, weight=None, reduction="mean",
                      kind="weston_watkins", sample_weight=None, n_threads=None,
                      return_grad=False):
    """Multi-class hinge loss.

    kind="weston_watkins" is ``torch.nn.functional.multi_margin_loss``:
    loss_i = sum_{j != y} weight[y] max(0, margin - x_y + x_j)^p / C.
    kind="crammer_singer": loss_i = weight[y] max(0, margin + max_{j != y} x_j - x_y)^p
    (not divided by C; subgradient on the first highest-scoring wrong class).

    Parameters
    ----------
    input : array of shape (n, C) or (C,), float32 or float64
        Scores.  Any memory layout (copied only when unreadable in place, as in cross_entropy).
    target : integer array of shape (n,) (or () for (C,) input)
        Class indices in [0, C).
    p : {1, 2}
    margin : float (finite)
    weight : array of shape (C,), optional
        Per-class weights (of the target class).
    reduction : {"none", "mean", "sum"}
        'mean' averages over samples (weighted by sample_weight).
    kind : {"weston_watkins", "crammer_singer"}
    sample_weight : array of shape (n,), optional
    n_threads : int, optional
    return_grad : bool

    Returns
    -------
    loss : float, or array of shape (n,) (() for (C,) input) for reduction="none"
    grad : array of the input's shape and dtype (only with return_grad=True)
    """
    x = check_float_array(input, "input")
    if x.ndim not in (1, 2):
        raise ValueError(f"input must have shape (n, C) or (C,); got shape {x.shape}")
    unbatched = x.ndim == 1
    x2 = x[np.newaxis] if unbatched else x
    n, n_classes = x2.shape
    if n_classes == 0:
        raise ValueError(f"input has no classes (shape {x.shape}); the class axis "
                         "must not be empty")
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p not in (1, 2):
        raise ValueError(f"p must be 1 or 2; got {p!r}")
    margin = check_scalar(margin, "margin")
    kind = check_choice(kind, "kind", MARGIN_KINDS)
    weight = check_weight_vector(weight, "weight", n_classes, "class")
    sample_weight = check_weight_vector(sample_weight, "sample_weight", n,
                                        "sample (row of input)")
    reduction = check_reduction(reduction)
    n_threads = effective_n_threads(n_threads, work=n)
    t = np.asarray(target)
    if unbatched and t.shape == (1,):
        t = t.reshape(())
    t = check_index_target(t, () if unbatched else (n,), x.shape).reshape(n)
    divisor = float(n) if sample_weight is None else float(sample_weight.sum())
    rows = np.empty(n, dtype=x.dtype) if reduction == "none" else None
    grad = np.empty_like(x2) if return_grad else None
    total, bad = _margin.multi_margin(
        x2, t, weight, sample_weight, int(p), margin, kind == "crammer_singer",
        _grad_scale(reduction, divisor), rows, grad, n_threads)
    if bad >= 0:
        raise ValueError(
            f"target contains class index {t[bad]}, outside [0, {n_classes - 1}] for input "
            f"with {n_classes} classes; encode labels as 0..C-1, e.g. with "
            "sklearn.preprocessing.LabelEncoder")
    loss = _reduce(total, divisor, reduction, rows, () if unbatched else (n,))
    if not return_grad:
        return loss
    return loss, (grad[0] if unbatched else grad)


# ---------------------------------------------------------------------------
# Contrastive loss
# ---------------------------------------------------------------------------

def _check_view(z, name):
    z = check_float_array(z, name)
    if z.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), one embedding per row; "
                         f"got shape {z.shape}")
    return z


def nt_xent(z_a, z_b, *, temperature=0.5, normalize=True, reduction="mean", n_threads=None,
            return_grad=False):
    """SimCLR's normalized temperature-scaled cross-entropy (NT-Xent).

    The 2N rows z = [z_a; z_b] (L2-normalized with ``normalize``, so that
    z_i . z_k is the cosine similarity) give logits S = z z^T / temperature.
    Row i's positive is its other view, i + N (mod 2N); the other 2N - 2 rows
    are its negatives and itself is excluded (logit -inf):

        loss_i = -S[i, i+N mod 2N] + log sum_{k != i} exp(S[i, k])

    i.e. ``F.cross_entropy`` over rows of S with the diagonal masked and
    positive targets.  For N = 1 each row's only candidate is its positive,
    so the loss is 0.

    Parameters
    ----------
    z_a, z_b : arrays of shape (N, D), float32 or float64 (the same dtype)
        The embeddings of two views of N samples.  Any memory layout; never
        up-cast (the kernels work in the input's dtype and sum in float64).
    temperature : float > 0
    normalize : bool
        L2-normalize the rows first (the gradient flows through the
        normalization).  A zero row then raises ValueError (no epsilon as in
        ``F.normalize``: its direction is undefined).  Without it the rows
        are used as given and |z|^2 / temperature must stay finite.
    reduction : {"mean", "sum", "none"}
        "mean" averages over the 2N rows; "none" returns the (2N,) losses,
        rows of z_a first.
    n_threads : int, optional
    return_grad : bool

    Returns
    -------
    loss : float, or array of shape (2N,) in the input's dtype for reduction="none"
    (grad_a, grad_b) : arrays of the inputs' shapes and dtype (only with
        return_grad=True): the gradient of the reduced loss (for "none", of
        the sum of the row losses), computed in the same call.

    Notes
    -----
    Cost: two (2N)^2 D products: S and W are symmetric, so each of the two
    passes (log-sum-exp, then gradient) computes every similarity once, in
    96 x 96 tiles of the upper triangle, and the gradient's W u uses each
    tile of W for both of its blocks of rows.  All in the input's dtype:
    float32 input gives float32 products (chunk sums added in float64) and
    float32 exponentials and W; shifted logits, the sums of exponentials,
    the log-sum-exp and the positives' cancelling W entries are float64.
    Memory: per-thread buffers of three tiles, and a (2N, D) float64
    gradient accumulator; the 2N x 2N similarity matrix is never stored
    (pass 2 recomputes its tiles).  float32 results stay within a few 1e-6
    of the float64 result (as torch's float32 does).  Results are bitwise
    identical for any thread count.
    """
    a = _check_view(z_a, "z_a")
    b = _check_view(z_b, "z_b")
    if a.dtype != b.dtype:
        raise TypeError(f"z_a and z_b must have the same dtype; got {a.dtype} and {b.dtype}. "
                        f"Convert one, e.g. z_b.astype(np.{a.dtype})")
    if a.shape != b.shape:
        raise ValueError(f"z_a and z_b must have the same shape (N, D), row i of each being "
                         f"a view of sample i; got {a.shape} and {b.shape}")
    n, dim = a.shape
    if n < 1:
        raise ValueError("z_a and z_b need at least one row (N >= 1); got N = 0")
    if dim < 1:
        raise ValueError(f"z_a and z_b need at least one column (D >= 1); got shape {a.shape}")
    temperature = check_scalar(temperature, "temperature", 0.0, None, low_inclusive=False)
    if not np.isfinite(1.0 / temperature):
        raise ValueError(f"temperature={temperature!r} is too small (1/temperature "
                         "overflows); use a temperature of at least 1e-300, typically 0.05-1")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False; got {normalize!r}")
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"return_grad must be True or False; got {return_grad!r}")
    reduction = check_reduction(reduction)
    n_threads = effective_n_threads(n_threads, work=2 * n)
    check_finite(a, "z_a")
    check_finite(b, "z_b")
    m = 2 * n
    rows = np.empty(m, dtype=a.dtype) if reduction == "none" else None
    grad_a = grad_b = None
    if return_grad:
        grad_a = np.empty_like(a)
        grad_b = np.empty_like(b)
    total, bad = _ntxent.nt_xent(a, b, temperature, bool(normalize),
                                 _grad_scale(reduction, float(m)), rows, grad_a, grad_b,
                                 n_threads)
    if bad >= 0:
        name, row = ("z_a", bad) if bad < n else ("z_b", bad - n)
        raise ValueError(
            f"{name} row {row} is all zeros, which has no direction to normalize "
            "(normalize=True); drop or replace that row, or pass normalize=False")
    loss = _reduce(total, float(m), reduction, rows, (m,))
    return (loss, (grad_a, grad_b)) if return_grad else loss


# ---------------------------------------------------------------------------
# torch.nn-style modules
# ---------------------------------------------------------------------------

class _Module:
    """A functional bound to constructor arguments, as a ``torch.nn`` module.

    Subclasses name the functional (``_fn``) and the constructor arguments
    with their torch defaults (``_params``, keyword-only; torch's deprecated
    ``size_average``/``reduce`` are not accepted).  Arguments are checked by
    the functional when the module is called.
    """
    _fn = None
    _params = {}
    _repr_params = ()      # shown by repr, as torch's extra_repr does

    def __init__(self, **kwargs):
        unknown = sorted(set(kwargs) - set(self._params))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected argument(s) {unknown}; "
                            f"it takes {list(self._params)}")
        for name, default in self._params.items():
            setattr(self, name, kwargs.get(name, default))

    def _kwargs(self):
        return {name: getattr(self, name) for name in self._params}

    def __repr__(self):
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_params)
        return f"{type(self).__name__}({shown})"


class _LossModule(_Module):
    def __call__(self, input, target, return_grad=False, *, sample_weight=None):
        """The loss (and with ``return_grad=True`` its gradient) of `input`
        against `target`: the functional with the module's arguments.

        Parameters
        ----------
        input : float32 or float64 array
            As the functional's ``input``.
        target : array
            As the functional's ``target``.
        return_grad : bool, default=False
            Also return the gradient with respect to ``input``.
        sample_weight : array of shape (n,), optional
            Per-sample weights, as the functional's.

        Returns
        -------
        loss : float, or array for reduction="none"
        grad : array of the input's shape and dtype (only with return_grad=True)
        """
        return type(self)._fn(input, target, **self._kwargs(), sample_weight=sample_weight,
                              return_grad=return_grad)

    forward = __call__


def _loss_module(name, fn, **params):
    doc = (f"``torch.nn.{name}``: calls :func:`{fn.__name__}` with the constructor's "
           "arguments.\n\nParameters\n----------\n" +
           "".join(f"{k} : default={v!r}\n    As in :func:`{fn.__name__}` (keyword-only).\n"
                   for k, v in params.items()))
    return type(name, (_LossModule,), {"_fn": staticmethod(fn), "_params": params,
                                       "__doc__": doc, "__module__": __name__})


CrossEntropyLoss = _loss_module("CrossEntropyLoss", cross_entropy, weight=None,
                                ignore_index=-100, reduction="mean", label_smoothing=0.0)
NLLLoss = _loss_module("NLLLoss", nll_loss, weight=None, ignore_index=-100, reduction="mean")
BCELoss = _loss_module("BCELoss", binary_cross_entropy, weight=None, reduction="mean")
BCEWithLogitsLoss = _loss_module("BCEWithLogitsLoss", binary_cross_entropy_with_logits,
                                 weight=None, reduction="mean", pos_weight=None)
MSELoss = _loss_module("MSELoss", mse_loss, reduction="mean")
HuberLoss = _loss_module("HuberLoss", huber_loss, reduction="mean", delta=1.0)
HingeEmbeddingLoss = _loss_module("HingeEmbeddingLoss", hinge_embedding_loss, margin=1.0,
                                  reduction="mean")
MultiMarginLoss = _loss_module("MultiMarginLoss", multi_margin_loss, p=1, margin=1.0,
                               weight=None, reduction="mean")


class _SoftmaxModule(_Module):
    _params = {"dim": None}
    _repr_params = ("dim",)

    def __init__(self, dim=None):
        super().__init__(dim=dim)

    def __call__(self, input):
        """The functional along ``dim``.  dim=None is torch's deprecated
        implicit choice (axis 0 for 0-, 1- and 3-d input, else 1), with
        its warning.

        Parameters
        ----------
        input : float32 or float64 array

        Returns
        -------
        out : array of the input's shape and dtype
        """
        dim = self.dim
        if dim is None:
            import warnings
            warnings.warn(f"Implicit dimension choice for {type(self).__name__.lower()} has "
                          "been deprecated (as in torch). Pass dim=X to the constructor.",
                          UserWarning, stacklevel=2)
            ndim = np.ndim(input)
            dim = 0 if ndim in (0, 1, 3) else 1
        return type(self)._fn(input, dim)

    forward = __call__


class Softmax(_SoftmaxModule):
    """``torch.nn.Softmax(dim)``: :func:`softmax` along ``dim``.

    Parameters
    ----------
    dim : int or None, default=None
        None: torch's deprecated implicit choice, with its warning.
    """
    _fn = staticmethod(softmax)


class LogSoftmax(_SoftmaxModule):
    """``torch.nn.LogSoftmax(dim)``: :func:`log_softmax` along ``dim``.

    Parameters
    ----------
    dim : int or None, default=None
        None: torch's deprecated implicit choice, with its warning.
    """
    _fn = staticmethod(log_softmax)


class _ElementwiseModule(_Module):
    def __call__(self, input):
        """The functional of `input`, elementwise.

        Parameters
        ----------
        input : float32 or float64 array

        Returns
        -------
        out : array of the input's shape and dtype
        """
        return type(self)._fn(input)

    forward = __call__


class Sigmoid(_ElementwiseModule):
    """``torch.nn.Sigmoid()``: :func:`sigmoid`."""
    _fn = staticmethod(sigmoid)


class LogSigmoid(_ElementwiseModule):
    """``torch.nn.LogSigmoid()``: :func:`log_sigmoid`."""
    _fn = staticmethod(log_sigmoid)
