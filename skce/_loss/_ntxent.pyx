"""OpenMP row loops over the NT-Xent C kernels (ntxent.c).

Inputs arrive from skce.losses already validated: two (N, D) views of the
same dtype, any strides.  The 2N stacked rows are packed (normalized) into
two zero-padded work copies, then processed in blocks of SKCE_NTX_BLOCK rows
in parallel, each thread with its own work buffer (SKCE_NTX_BLOCK rows of
S = u u^T / T, never the full 2N x 2N matrix).  Every row's result is a
fixed-order computation and block sums are added in block order, so results
are bitwise the same for any number of threads.
"""
from cython.parallel cimport prange, threadid
from cython cimport floating

import numpy as np

from skce._kernels cimport *

# Rows per parallel work item of the packing pass.
cdef Py_ssize_t PACK_BLOCK = 256


cdef inline Py_ssize_t _round_up(Py_ssize_t x, Py_ssize_t m) noexcept nogil:
    return (x + m - 1) // m * m


def nt_xent(const floating[:, :] a, const floating[:, :] b, double temperature,
            bint normalize, double grad_scale, floating[::1] loss_out,
            floating[:, :] grad_a, floating[:, :] grad_b, int n_threads):
    """(sum of the 2N row losses, first zero row or -1).

    a, b: (N, D).  Per-row losses go into loss_out (2N,) and the gradients of
    the loss sum times grad_scale into grad_a, grad_b, each when not None
    (the gradients both or neither).  With normalize, a row of zero norm
    stops before any loss is computed and its stacked index is returned.
    """
    cdef Py_ssize_t N = a.shape[0], D = a.shape[1], M = 2 * a.shape[0]
    cdef skce_ntxent_options opt
    cdef skce_strides2 as_ = strides2(a.strides[0], a.strides[1], sizeof(floating))
    cdef skce_strides2 bs = strides2(b.strides[0], b.strides[1], sizeof(floating))
    cdef skce_strides2 gas = as_, gbs = bs
    cdef floating *ga = NULL
    cdef floating *gb = NULL
    cdef floating *lo = NULL
    cdef double *lse_p = NULL
    cdef Py_ssize_t n_blocks = (M + SKCE_NTX_BLOCK - 1) // SKCE_NTX_BLOCK
    cdef Py_ssize_t n_pack = (M + PACK_BLOCK - 1) // PACK_BLOCK
    cdef Py_ssize_t b_, r0, r1, ws
    cdef double total = 0.0
    cdef double[::1] block_sums, norms, lse
    cdef double[:, ::1] work
    cdef floating[::1] u, up
    cdef Py_ssize_t[::1] bad
    if N == 0 or D == 0:
        raise ValueError("nt_xent needs N >= 1 rows and D >= 1 columns")
    opt.n = N
    opt.dim = D
    # tile widths: 12 columns (double), 24 (float)
    kw = SKCE_NTX_KW if floating is double else SKCE_NTX_KW_F32
    opt.dim_pad = _round_up(D, kw)
    opt.rows_pad = _round_up(M, kw)
    opt.inv_temperature = 1.0 / temperature
    opt.grad_scale = grad_scale
    opt.normalize = normalize
    dtype = np.float64 if floating is double else np.float32
    u = np.zeros(opt.rows_pad * opt.dim_pad, dtype=dtype)
    up = np.zeros(opt.rows_pad * D, dtype=dtype)
    norms = np.empty(M)
    bad = np.full(n_pack, -1, dtype=np.intp)
    with nogil:
        for b_ in prange(n_pack, num_threads=n_threads, schedule="static"):
            r0 = b_ * PACK_BLOCK
            r1 = min(r0 + PACK_BLOCK, M)
            if floating is double:
                bad[b_] = skce_ntxent_pack_block_f64(r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs,
                                                     &u[0], &up[0], &norms[0])
            else:
                bad[b_] = skce_ntxent_pack_block_f32(r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs,
                                                     &u[0], &up[0], &norms[0])
    for b_ in range(n_pack):
        if bad[b_] >= 0:
            return 0.0, bad[b_]

    ws = <Py_ssize_t>skce_ntxent_work_size(&opt)
    work = np.empty((max(n_threads, 1), ws))
    block_sums = np.zeros(n_blocks)
    if grad_a is not None:
        lse = np.empty(M)
        lse_p = &lse[0]
        gas = strides2(grad_a.strides[0], grad_a.strides[1], sizeof(floating))
        gbs = strides2(grad_b.strides[0], grad_b.strides[1], sizeof(floating))
        ga = &grad_a[0, 0]
        gb = &grad_b[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        for b_ in prange(n_blocks, num_threads=n_threads, schedule="static"):
            r0 = b_ * SKCE_NTX_BLOCK
            r1 = min(r0 + SKCE_NTX_BLOCK, M)
            if floating is double:
                block_sums[b_] = skce_ntxent_loss_block_f64(
                    r0, r1, &opt, &u[0], &up[0], lse_p, lo, &work[threadid(), 0])
            else:
                block_sums[b_] = skce_ntxent_loss_block_f32(
                    r0, r1, &opt, &u[0], &up[0], lse_p, lo, &work[threadid(), 0])
    if ga != NULL:
        with nogil:
            for b_ in prange(n_blocks, num_threads=n_threads, schedule="static"):
                r0 = b_ * SKCE_NTX_BLOCK
                r1 = min(r0 + SKCE_NTX_BLOCK, M)
                if floating is double:
                    skce_ntxent_grad_block_f64(
                        r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs, &u[0], &up[0], &norms[0],
                        lse_p, ga, gas, gb, gbs, &work[threadid(), 0])
                else:
                    skce_ntxent_grad_block_f32(
                        r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs, &u[0], &up[0], &norms[0],
                        lse_p, ga, gas, gb, gbs, &work[threadid(), 0])
    for b_ in range(n_blocks):
        total += block_sums[b_]
    return total, -1
