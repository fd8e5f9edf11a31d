"""OpenMP row loops over the softmax-family C kernels (cross-entropy, NLL, softmax).

Inputs arrive from skce.losses already validated and viewed as (n, C, D)
arrays (D = positions per sample).  Rows are processed in blocks of a fixed
size in parallel; block sums are added in block order, so the result is
bitwise the same for any number of threads.
"""
from cython.parallel cimport prange
from cython cimport floating
from libc.stdint cimport int64_t

import numpy as np

from skce._kernels cimport *

# Rows per parallel work item.  Fixed (not derived from n_threads) so that
# the order of the final summation never depends on the thread count.
cdef Py_ssize_t BLOCK = 512


cdef skce_strides3 _strides3(Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t s2,
                             Py_ssize_t itemsize) except *:
    """Byte strides of a 3-D view -> element strides for the C kernels."""
    cdef skce_strides3 s
    if s0 % itemsize or s1 % itemsize or s2 % itemsize:
        raise ValueError("array strides must be a multiple of the item size; "
                         "pass np.ascontiguousarray(a)")
    s.sample = s0 // itemsize
    s.cls = s1 // itemsize
    s.pos = s2 // itemsize
    return s


cdef double _sum_blocks(double[::1] block_sums) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t b
    for b in range(block_sums.shape[0]):
        total += block_sums[b]
    return total


cdef inline skce_shape _shape(Py_ssize_t C, Py_ssize_t D, const int64_t[:, :] target):
    cdef skce_shape shape
    shape.n_classes = C
    shape.n_pos = D
    shape.t_sample = 0
    shape.t_pos = 0
    if target is not None:
        shape.t_sample = target.strides[0] // sizeof(int64_t)
        shape.t_pos = target.strides[1] // sizeof(int64_t)
    return shape


def index_target_weight_sum(const int64_t[:, :] target, Py_ssize_t n_classes,
                            const double[::1] class_weight, const double[::1] sample_weight,
                            int64_t ignore_index, int n_threads):
    """Check class-index targets and return (weight sum, first bad row or -1).

    The weight sum, over non-ignored rows, of sample_weight * class_weight[t]
    is the divisor of reduction='mean'.
    """
    cdef Py_ssize_t n_rows = target.shape[0] * target.shape[1]
    cdef Py_ssize_t n_blocks = (n_rows + BLOCK - 1) // BLOCK
    cdef skce_shape shape = _shape(n_classes, target.shape[1], target)
    cdef double[::1] block_sums = np.zeros(n_blocks)
    cdef Py_ssize_t[::1] bad = np.full(n_blocks, -1, dtype=np.intp)
    cdef const double *cw = &class_weight[0] if class_weight is not None else NULL
    # (an n = 0 batch brings an empty sample_weight: no element 0 to point at)
    cdef const double *sw = &sample_weight[0] \
        if sample_weight is not None and sample_weight.shape[0] > 0 else NULL
    cdef Py_ssize_t b, r0, r1
    if n_rows == 0:
        return 0.0, -1
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            r0 = b * BLOCK
            r1 = min(r0 + BLOCK, n_rows)
            block_sums[b] = skce_index_target_weight_block(
                r0, r1, &shape, &target[0, 0], cw, sw, ignore_index, &bad[b])
    for b in range(n_blocks):
        if bad[b] >= 0:
            return 0.0, bad[b]
    return _sum_blocks(block_sums), -1


cdef skce_ce_options _options(const double[::1] class_weight, const double[::1] sample_weight,
                              int64_t ignore_index, double label_smoothing, double grad_scale):
    return skce_ce_options_make(
        &class_weight[0] if class_weight is not None else NULL,
        &sample_weight[0] if sample_weight is not None and sample_weight.shape[0] > 0 else NULL,
        ignore_index, label_smoothing, grad_scale)


# What class_loss computes: loss kinds of the one numbering (skce_loss.h)
# cross-entropy of class-index / class-probability targets, negative
# log-likelihood of log-probabilities.
CE_INDEX, CE_PROB, NLL = SKCE_CE_INDEX, SKCE_CE_PROB, SKCE_NLL


def class_loss(int kind, const floating[:, :, :] x, const int64_t[:, :] target,
               const floating[:, :, :] y, const double[::1] class_weight,
               const double[::1] sample_weight, int64_t ignore_index, double label_smoothing,
               double grad_scale, floating[::1] loss_out, floating[:, :, :] grad, int n_threads):
    """Sum of the row losses of a softmax-family loss (`kind`) over x (n, C, D).

    Class-index targets come in `target` (n, D), probabilities in `y` (shaped
    like x); the other is None.  Per-row losses go to loss_out and the
    gradient (times grad_scale) to grad, each when not None.
    """
    cdef Py_ssize_t n_rows = x.shape[0] * x.shape[2]
    cdef Py_ssize_t n_blocks = (n_rows + BLOCK - 1) // BLOCK
    cdef skce_shape shape = _shape(x.shape[1], x.shape[2], target)
    cdef skce_ce_options opt = _options(class_weight, sample_weight, ignore_index,
                                        label_smoothing, grad_scale)
    cdef skce_strides3 xs = _strides3(x.strides[0], x.strides[1], x.strides[2], sizeof(floating))
    cdef skce_strides3 ys = xs
    cdef skce_strides3 gs = xs
    cdef const int64_t *t = NULL
    cdef const floating *yp = NULL
    cdef floating *g = NULL
    cdef floating *lo = NULL
    cdef double[::1] block_sums = np.zeros(n_blocks)
    cdef Py_ssize_t b, r0, r1
    if n_rows == 0:
        return 0.0
    if kind == SKCE_CE_PROB:
        ys = _strides3(y.strides[0], y.strides[1], y.strides[2], sizeof(floating))
        yp = &y[0, 0, 0]
    else:
        t = &target[0, 0]
    if grad is not None:
        gs = _strides3(grad.strides[0], grad.strides[1], grad.strides[2], sizeof(floating))
        g = &grad[0, 0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            r0 = b * BLOCK
            r1 = min(r0 + BLOCK, n_rows)
            if floating is double:
                if kind == SKCE_CE_INDEX:
                    block_sums[b] = skce_ce_index_block_f64(
                        r0, r1, &shape, &opt, &x[0, 0, 0], xs, t, lo, g, gs)
                elif kind == SKCE_CE_PROB:
                    block_sums[b] = skce_ce_prob_block_f64(
                        r0, r1, &shape, &opt, &x[0, 0, 0], xs, yp, ys, lo, g, gs)
                else:
                    block_sums[b] = skce_nll_block_f64(
                        r0, r1, &shape, &opt, &x[0, 0, 0], xs, t, lo, g, gs)
            else:
                if kind == SKCE_CE_INDEX:
                    block_sums[b] = skce_ce_index_block_f32(
                        r0, r1, &shape, &opt, &x[0, 0, 0], xs, t, lo, g, gs)
                elif kind == SKCE_CE_PROB:
                    block_sums[b] = skce_ce_prob_block_f32(
                        r0, r1, &shape, &opt, &x[0, 0, 0], xs, yp, ys, lo, g, gs)
                else:
                    block_sums[b] = skce_nll_block_f32(
                        r0, r1, &shape, &opt, &x[0, 0, 0], xs, t, lo, g, gs)
    return _sum_blocks(block_sums)


def softmax(const floating[:, :, :] x, floating[:, :, :] out, bint log_output, int n_threads):
    """Softmax (or log-softmax) over axis 1 of x into out."""
    cdef Py_ssize_t n_rows = x.shape[0] * x.shape[2]
    cdef Py_ssize_t n_blocks = (n_rows + BLOCK - 1) // BLOCK
    cdef skce_shape shape = _shape(x.shape[1], x.shape[2], None)
    cdef skce_strides3 xs = _strides3(x.strides[0], x.strides[1], x.strides[2], sizeof(floating))
    cdef skce_strides3 os = _strides3(out.strides[0], out.strides[1], out.strides[2], sizeof(floating))
    cdef Py_ssize_t b, r0, r1
    if n_rows == 0:
        return
    with nogil:
        for b in prange(n_blocks, num_threads=n_threads, schedule="static"):
            r0 = b * BLOCK
            r1 = min(r0 + BLOCK, n_rows)
            if floating is double:
                skce_softmax_block_f64(r0, r1, &shape, log_output, &x[0, 0, 0], xs,
                                       &out[0, 0, 0], os)
            else:
                skce_softmax_block_f32(r0, r1, &shape, log_output, &x[0, 0, 0], xs,
                                       &out[0, 0, 0], os)
