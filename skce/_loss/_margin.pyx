"""OpenMP row loops over the multi-class margin C kernels (margin.c).

Inputs arrive from skce.losses already validated, as (n, C) arrays.  Rows
are processed in blocks of a fixed size in parallel; block sums are added in
block order, so the result is bitwise the same for any number of threads.
"""
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t

import numpy as np

from skce._kernels cimport *

# Elements per parallel work item (rows = BLOCK_ELEMS // C, at least 1).
# Depends on the shape only, never on n_threads.
cdef Py_ssize_t BLOCK_ELEMS = 8192

# the loss kind (the one numbering, skce_loss.h)
MULTI_MARGIN = SKCE_MULTI_MARGIN


def multi_margin(const floating[:, :] x, const int64_t[:] target,
                 const double[::1] class_weight, const double[::1] sample_weight,
                 int p, double margin, bint crammer_singer, double grad_scale,
                 floating[::1] loss_out, floating[:, :] grad, int n_threads):
    """(sum of row losses, first row with a target outside [0, C) or -1).

    Per-row losses go into loss_out and the gradient (times grad_scale) into
    grad, each when not None.
    """
    cdef Py_ssize_t n_rows = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t rows_per_block = max(1, BLOCK_ELEMS // max(C, 1))
    cdef Py_ssize_t n_blocks = (n_rows + rows_per_block - 1) // rows_per_block
    cdef skce_margin_options opt
    cdef skce_strides2 xs = strides2(x.strides[0], x.strides[1], sizeof(floating))
    cdef skce_strides2 gs = xs
    cdef floating *g = NULL
    cdef floating *lo = NULL
    cdef double[::1] block_sums
    cdef Py_ssize_t[::1] bad
    cdef Py_ssize_t b, r0, r1
    cdef double total = 0.0
    if n_rows == 0:
        return 0.0, -1
    block_sums = np.zeros(n_blocks)
    bad = np.full(n_blocks, -1, dtype=np.intp)
    opt = skce_margin_options_make(
        C, target.strides[0] // sizeof(int64_t),
        &class_weight[0] if class_weight is not None else NULL,
        &sample_weight[0] if sample_weight is not None else NULL,
        margin, grad_scale, p, crammer_singer)
    if grad is not None:
        gs = strides2(grad.strides[0], grad.strides[1], sizeof(floating))
        g = &grad[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            r0 = b * rows_per_block
            r1 = min(r0 + rows_per_block, n_rows)
            if floating is double:
                block_sums[b] = skce_multi_margin_block_f64(
                    r0, r1, &opt, &x[0, 0], xs, &target[0], lo, g, gs, &bad[b])
            else:
                block_sums[b] = skce_multi_margin_block_f32(
                    r0, r1, &opt, &x[0, 0], xs, &target[0], lo, g, gs, &bad[b])
    for b in range(n_blocks):
        if bad[b] >= 0:
            return 0.0, bad[b]
        total += block_sums[b]
    return total, -1
