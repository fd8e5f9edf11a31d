"""OpenMP row loops over the elementwise C kernels (elementwise.c): BCE with
logits, MSE, Huber, binary hinge, BCE on probabilities, hinge embedding.

Inputs arrive from skce.losses already validated and viewed as (n, R, L)
arrays (sample, row within the sample, last axis).  Rows are processed in
blocks of a fixed size in parallel; block sums are added in block order, so
the result is bitwise the same for any number of threads.
"""
from cython.parallel cimport prange
from cython cimport floating

import numpy as np

from skce._kernels cimport *

# Elements per parallel work item (rows = BLOCK_ELEMS // L, at least 1).
# Depends on the shape only, never on n_threads.
cdef Py_ssize_t BLOCK_ELEMS = 16384

# loss kinds (the one numbering, skce_loss.h)
BCE, MSE, HUBER, HINGE = SKCE_BCE, SKCE_MSE, SKCE_HUBER, SKCE_HINGE
BCE_PROB, HINGE_EMBEDDING = SKCE_BCE_PROB, SKCE_HINGE_EMBEDDING
LABEL_ZERO = SKCE_LABEL_ZERO
LABEL_MINUS_ONE = SKCE_LABEL_MINUS_ONE
LABEL_INVALID = SKCE_LABEL_INVALID
PROB_INVALID = SKCE_PROB_INVALID


cdef skce_strides_nrl _nrl(Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t s2, Py_ssize_t n,
                           Py_ssize_t R, Py_ssize_t L, Py_ssize_t itemsize) except *:
    """Byte strides of an (n, R, L) view -> element strides; a dimension of
    size 1 gets the stride that makes a contiguous layout look flat."""
    cdef skce_strides_nrl s
    if s0 % itemsize or s1 % itemsize or s2 % itemsize:
        raise ValueError("array strides must be a multiple of the item size; "
                         "pass np.ascontiguousarray(a)")
    s.sample = s0 // itemsize
    s.row = s1 // itemsize
    s.col = s2 // itemsize
    if L == 1:
        s.col = s.row if R > 1 else s.sample
    if R == 1:
        s.row = L * s.col
    if n == 1:
        s.sample = R * s.row
    return s


def elementwise(int kind, const floating[:, :, :] x, const floating[:, :, :] y,
                const floating[:, :, :] w, const floating[:, :, :] pos_weight,
                const double[::1] sample_weight, double grad_scale, double margin,
                double delta, bint squared, floating[::1] loss_out,
                floating[:, :, :] grad, int n_threads):
    """(sum of the weighted element losses, label / probability flags).

    Element losses go into loss_out (C order) and the gradient (times
    grad_scale) into grad, each when not None; w (element weights) and
    pos_weight (BCE) may be None and may have zero strides.
    """
    cdef Py_ssize_t n = x.shape[0], R = x.shape[1], L = x.shape[2]
    cdef Py_ssize_t n_rows = n * R
    cdef Py_ssize_t rows_per_block = max(1, BLOCK_ELEMS // max(L, 1))
    cdef Py_ssize_t n_blocks = (n_rows + rows_per_block - 1) // rows_per_block
    cdef Py_ssize_t itemsize = sizeof(floating)
    cdef skce_ew_options opt
    cdef skce_strides_nrl xs = _nrl(x.strides[0], x.strides[1], x.strides[2], n, R, L, itemsize)
    cdef skce_strides_nrl ys = _nrl(y.strides[0], y.strides[1], y.strides[2], n, R, L, itemsize)
    cdef skce_strides_nrl ws = xs, ps = xs, gs = xs
    cdef const floating *wp = NULL
    cdef const floating *pp = NULL
    cdef floating *g = NULL
    cdef floating *lo = NULL
    cdef double[::1] block_sums
    cdef int[::1] flags
    cdef Py_ssize_t b, r0, r1
    cdef double total = 0.0
    cdef int all_flags = 0
    if n_rows == 0 or L == 0:
        return 0.0, 0
    block_sums = np.zeros(n_blocks)
    flags = np.zeros(n_blocks, dtype=np.intc)
    opt = skce_ew_options_make(R, L, &sample_weight[0] if sample_weight is not None else NULL,
                               grad_scale, margin, delta, squared)
    if kind == SKCE_BCE_PROB or kind == SKCE_HINGE_EMBEDDING:   # run in skce_hinge_block
        opt.kind = kind
    if w is not None:
        ws = _nrl(w.strides[0], w.strides[1], w.strides[2], n, R, L, itemsize)
        wp = &w[0, 0, 0]
    if pos_weight is not None:
        ps = _nrl(pos_weight.strides[0], pos_weight.strides[1], pos_weight.strides[2],
                  n, R, L, itemsize)
        pp = &pos_weight[0, 0, 0]
    if grad is not None:
        gs = _nrl(grad.strides[0], grad.strides[1], grad.strides[2], n, R, L, itemsize)
        g = &grad[0, 0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            r0 = b * rows_per_block
            r1 = min(r0 + rows_per_block, n_rows)
            if floating is double:
                if kind == SKCE_BCE:
                    block_sums[b] = skce_bce_block_f64(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, pp, ps, lo, g, gs)
                elif kind == SKCE_MSE:
                    block_sums[b] = skce_mse_block_f64(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, lo, g, gs)
                elif kind == SKCE_HUBER:
                    block_sums[b] = skce_huber_block_f64(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, lo, g, gs)
                else:
                    block_sums[b] = skce_hinge_block_f64(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, lo, g, gs, &flags[b])
            else:
                if kind == SKCE_BCE:
                    block_sums[b] = skce_bce_block_f32(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, pp, ps, lo, g, gs)
                elif kind == SKCE_MSE:
                    block_sums[b] = skce_mse_block_f32(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, lo, g, gs)
                elif kind == SKCE_HUBER:
                    block_sums[b] = skce_huber_block_f32(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, lo, g, gs)
                else:
                    block_sums[b] = skce_hinge_block_f32(r0, r1, &opt, &x[0, 0, 0], xs,
                        &y[0, 0, 0], ys, wp, ws, lo, g, gs, &flags[b])
    for b in range(n_blocks):
        total += block_sums[b]
        all_flags |= flags[b]
    return total, all_flags



def sigmoid(const floating[::1] x, floating[::1] out, bint log_output, int n_threads):
    """out = sigmoid(x) (log_output: log sigmoid(x)), elementwise, in blocks
    of BLOCK_ELEMS in parallel."""
    cdef Py_ssize_t n = x.shape[0], b, k0
    cdef Py_ssize_t n_blocks = (n + BLOCK_ELEMS - 1) // BLOCK_ELEMS
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            k0 = b * BLOCK_ELEMS
            if floating is double:
                skce_sigmoid_f64(min(BLOCK_ELEMS, n - k0), &x[k0], &out[k0], log_output)
            else:
                skce_sigmoid_f32(min(BLOCK_ELEMS, n - k0), &x[k0], &out[k0], log_output)
