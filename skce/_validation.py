"""Input checks shared by the loss functions: each error names the argument
and says what to do."""
import numbers

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    return reduction


def check_float_array(a, name):
    """float32/float64 ndarray, never copied or up-cast."""
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must be a float32 or float64 array; got dtype {arr.dtype}. "
            f"Convert it first, e.g. {name}.astype(np.float64)"
        )
    if any(s % arr.itemsize for s in arr.strides):
        arr = np.ascontiguousarray(arr)  # misaligned strides cannot be handed to C
    return arr


def check_finite(arr, name):
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; remove or impute those entries")


def check_scalar(value, name, low=None, high=None, low_inclusive=True, high_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        bound = "[" if low_inclusive else "("
        raise ValueError(f"{name} must be in {bound}{low}, {high if high is not None else 'inf'}"
                         f"{']' if high_inclusive else ')'}; got {value}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise ValueError(f"{name} must be at most {high}; got {value}")
    return value


def check_weight_vector(w, name, size, what):
    """Non-negative finite float64 vector of length `size` (or None)."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"{name} must be an array of real numbers; got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), one entry per {what}; "
                         f"got shape {arr.shape}")
    check_finite(arr, name)
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative; got a minimum of {arr.min()}")
    return arr


def check_index_target(target, expected_shape, input_shape):
    arr = np.asarray(target)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"target of class indices must be an integer array; got dtype {arr.dtype}. "
            "Pass class probabilities as a float array of the input's shape "
            f"{input_shape} instead"
        )
    if arr.shape != expected_shape:
        raise ValueError(f"target must have shape {expected_shape} for input of shape "
                         f"{input_shape}; got {arr.shape}")
    return arr.astype(np.int64, copy=False)


def view_n_c_d(a):
    """(n, C, d1, ..., dK) -> (n, C, D) view with D = d1*...*dK (a copy only
    for layouts that cannot be viewed that way)."""
    if a.ndim == 2:
        return a[:, :, np.newaxis]
    return a.reshape(a.shape[0], a.shape[1], _n_positions(a.shape))


def empty_like_n_c_d(a):
    """An output array shaped like `a` whose (n, C, D) form is a view."""
    if a.ndim == 2:
        out = np.empty_like(a)  # keeps a Fortran layout
        return out, out[:, :, np.newaxis]
    out = np.empty(a.shape, dtype=a.dtype)
    return out, out.reshape(a.shape[0], a.shape[1], _n_positions(a.shape))


def _n_positions(shape):
    return int(np.prod(shape[2:], dtype=np.int64))


def view_n_r_l(a):
    """Any array -> (n, R, L) view: samples, rows within a sample (the middle
    axes merged), last axis.  1-D is (n, 1, 1), 0-d (1, 1, 1).  A copy only
    for inputs of 4+ dimensions whose middle axes cannot be merged."""
    if a.ndim == 0:
        return a.reshape(1, 1, 1)
    if a.ndim == 1:
        return a[:, np.newaxis, np.newaxis]
    if a.ndim == 2:
        return a[:, np.newaxis, :]
    if a.ndim == 3:
        return a
    # the middle size spelled out: -1 cannot be inferred for an empty array
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:-1], dtype=np.int64)), a.shape[-1])


def _aligned(arr):
    if any(s % arr.itemsize for s in arr.strides):
        return np.ascontiguousarray(arr)
    return arr


def check_target_like(target, x, labels=False):
    """Target of the input's shape, in the input's dtype (converted only when
    its dtype differs).  Float targets unless `labels` (then any real dtype)."""
    t = np.asarray(target)
    if labels:
        if t.dtype.kind not in "fiub":
            raise TypeError(f"target must be an array of labels (-1/+1 or 0/1); "
                            f"got dtype {t.dtype}")
    elif t.dtype.kind != "f":
        raise TypeError(f"target must be a float array; got dtype {t.dtype}. "
                        f"Convert it first, e.g. target.astype(np.{x.dtype})")
    if t.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}; got {t.shape}")
    return _aligned(t.astype(x.dtype, copy=False))


def check_broadcast_weight(w, name, x):
    """Non-negative finite weights in the input's dtype, broadcast (a view)
    to the input's shape; None stays None."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"{name} must be an array of real numbers; got dtype {arr.dtype}")
    arr = _aligned(arr.astype(x.dtype, copy=False))
    check_finite(arr, name)
    if arr.size and (arr < 0).any():
        raise ValueError(f"{name} must be non-negative; got a minimum of {arr.min()}")
    try:
        return np.broadcast_to(arr, x.shape)
    except ValueError:
        raise ValueError(f"{name} of shape {arr.shape} cannot be broadcast to the input's "
                         f"shape {x.shape}; give it the input's shape or one that "
                         "broadcasts to it (e.g. the last dimension only)") from None


def check_choice(value, name, choices):
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)) \
            or value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value
