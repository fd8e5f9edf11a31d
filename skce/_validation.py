"""Input checks shared by the loss functions, the estimators and the
training loop: each error names the argument and says what to do."""
import numbers
import warnings

import numpy as np
import scipy.sparse as sp

from skce._csr_check import (INDEX_RANGE, INDPTR_DECREASING, INDPTR_END, INDPTR_START, OK,
                             csr_check)
from skce.exceptions import DataCopyWarning

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    return reduction


# Copies of an input at least this large are announced (DataCopyWarning).
COPY_WARN_BYTES = 16 * 2**20


def readable(arr, name="array"):
    """`arr` itself when the C kernels can read it in place, else a copy.

    The kernels take element strides (byte strides / item size), may use
    aligned vector loads and compute strides as unsigned divisions: negative
    strides (reversed views), strides that are not a multiple of the item
    size and misaligned data (e.g. a view into a byte buffer at an odd
    offset) are copied (positive strides, same axis order).  Zero strides
    (broadcast views) and any other slicing are read in place.  A copy of at
    least COPY_WARN_BYTES is announced with a DataCopyWarning giving its size.
    """
    # (numpy's aligned flag ignores the strides of axes of length 1; the
    # kernels' stride conversion does not)
    if arr.flags.aligned and all(s >= 0 and s % arr.itemsize == 0 for s in arr.strides):
        return arr
    if arr.nbytes >= COPY_WARN_BYTES:
        aligned = "aligned" if arr.ctypes.data % arr.itemsize == 0 else "misaligned"
        warnings.warn(
            f"{name} ({arr.dtype}, shape {arr.shape}) cannot be read in place (strides "
            f"{arr.strides}, data {aligned}): copied {arr.nbytes:,} bytes "
            f"({arr.nbytes / 2**20:.1f} MB). Pass a C- or F-contiguous array "
            "(np.ascontiguousarray) to avoid the copy", DataCopyWarning, stacklevel=3)
    return np.array(arr, order="K", copy=True)


def check_float_array(a, name):
    """float32/float64 ndarray, never up-cast; copied only when the kernels
    cannot read its layout (see `readable`)."""
    arr = np.asarray(a)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must be a float32 or float64 array; got dtype {arr.dtype}. "
            f"Convert it first, e.g. {name}.astype(np.float64)"
        )
    return readable(arr, name)


_CSR_PROBLEMS = {
    INDPTR_START: "{name}.indptr[0] is {value}, not 0",
    INDPTR_DECREASING: "{name}.indptr decreases at position {where} ({value} > {next})",
    INDPTR_END: "{name}.indptr[-1] = {value} stored entries, more than {name}.data "
                "({n_data}) or {name}.indices ({n_indices}) hold",
    INDEX_RANGE: "{name}.indices[{where}] = {value} is outside [0, {n_minor}) (the number of "
                 "{minor})",
}


def check_sparse_structure(X, name="X"):
    """Raise a ValueError (TypeError for index dtypes) unless the sparse
    matrix X (CSR, CSC or COO; other formats are converted by scipy) has a
    structure every kernel can read: scipy checks it only at construction,
    not after in-place edits, and the kernels do not check at all.  CSR and
    CSC go through one O(nnz) C pass (src/common/csr_check.c).  Dense X is
    returned unchecked."""
    if not sp.issparse(X):
        return X
    fmt = X.format
    if fmt == "coo":
        return _check_coo(X, name)
    if fmt not in ("csr", "csc"):
        return X
    n_rows, n_cols = X.shape
    n_major, n_minor = (n_rows, n_cols) if fmt == "csr" else (n_cols, n_rows)
    indptr, indices, data = (np.asarray(a) for a in (X.indptr, X.indices, X.data))
    for part, arr in (("indptr", indptr), ("indices", indices)):
        if arr.dtype not in (np.int32, np.int64):
            raise TypeError(f"{name}.{part} has dtype {arr.dtype}; a {fmt.upper()} matrix's "
                            f"index arrays must be int32 or int64: rebuild it with "
                            f"scipy.sparse.{fmt}_matrix(({name}.data, {name}.indices, "
                            f"{name}.indptr), shape={name}.shape)")
    if indptr.ndim != 1 or indices.ndim != 1 or data.ndim != 1:
        raise ValueError(f"{name}.indptr, {name}.indices and {name}.data must be 1-D arrays")
    if indptr.shape[0] != n_major + 1:
        raise ValueError(f"{name} is not a valid {fmt.upper()} matrix: {name}.indptr has "
                         f"{indptr.shape[0]} entries, but its shape {X.shape} needs "
                         f"{n_major + 1}; rebuild it (scipy.sparse.{fmt}_matrix) with "
                         "consistent arrays")
    if indptr.dtype != indices.dtype:   # the C check takes one index type
        indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    status, where = csr_check(np.ascontiguousarray(indptr), np.ascontiguousarray(indices),
                              n_minor, data.shape[0])
    if status != OK:
        value = indices[where] if status == INDEX_RANGE else indptr[where]
        problem = _CSR_PROBLEMS[status].format(
            name=name, where=where, value=value,
            next=indptr[where + 1] if status == INDPTR_DECREASING else None,
            n_data=data.shape[0], n_indices=indices.shape[0], n_minor=n_minor,
            minor="columns" if fmt == "csr" else "rows")
        raise ValueError(
            f"{name} is not a valid {fmt.upper()} matrix: {problem}. Its arrays were built or "
            f"edited inconsistently (X.check_format() reports the same); rebuild it, e.g. "
            f"scipy.sparse.{fmt}_matrix((data, indices, indptr), shape=(n_rows, n_cols)) "
            "with 0 <= indices < n_cols and indptr running from 0 up to len(data)")
    return X


def _check_coo(X, name):
    for axis, part in enumerate(("row", "col")):
        idx = np.asarray(getattr(X, part))
        if idx.shape[0] != np.shape(X.data)[0]:
            raise ValueError(f"{name} is not a valid COO matrix: {name}.{part} has "
                             f"{idx.shape[0]} entries and {name}.data {np.shape(X.data)[0]}")
        if idx.size and (idx.min() < 0 or idx.max() >= X.shape[axis]):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise ValueError(f"{name} is not a valid COO matrix: {name}.{part} holds {bad}, "
                             f"outside [0, {X.shape[axis]}) for shape {X.shape}; rebuild it "
                             "with indices inside its shape")
    return X


def readable_csr(X):
    """The (data, indices, indptr) of a checked CSR matrix as the compiled
    epoch reads them: contiguous, aligned, one index dtype (copies only of
    arrays that are not)."""
    data = np.require(X.data, requirements=["C", "A"])
    indices = np.require(X.indices, requirements=["C", "A"])
    indptr = np.require(X.indptr, requirements=["C", "A"])
    if indices.dtype != indptr.dtype:   # rare: the compiled loop takes one index type
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    return data, indices, indptr


def check_finite(arr, name):
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; remove or impute those entries")


def check_scalar(value, name, low=None, high=None, low_inclusive=True, high_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    try:
        value = float(value)
    except OverflowError:   # a Python int beyond float64
        raise ValueError(f"{name} must be finite; got an integer of {value.bit_length()} "
                         "bits, beyond float64's range (~1.8e308)") from None
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
    arr = np.require(arr, dtype=np.float64, requirements=["C", "A"])
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
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        # would wrap to a negative int64 (and be reported as one)
        raise ValueError(f"target contains class index {int(arr.max())}, far outside the "
                         f"{input_shape[1] if len(input_shape) > 1 else input_shape[0]} "
                         "classes of the input; encode labels as 0..C-1, e.g. with "
                         "sklearn.preprocessing.LabelEncoder")
    return readable(arr.astype(np.int64, copy=False), "target")


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
    return readable(t.astype(x.dtype, copy=False), "target")


def check_broadcast_weight(w, name, x):
    """Non-negative finite weights in the input's dtype, broadcast (a view)
    to the input's shape; None stays None."""
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"{name} must be an array of real numbers; got dtype {arr.dtype}")
    arr = readable(arr.astype(x.dtype, copy=False), name)
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
