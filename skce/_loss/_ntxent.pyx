"""OpenMP loops over the NT-Xent C kernels (ntxent.c).

Inputs arrive from skce.losses already validated: two (N, D) views of the
same dtype, any strides.  The 2N stacked rows are packed (normalized) into
two zero-padded work copies; then both passes run over the upper-triangle
tiles of the similarity matrix S = u u^T / T in the rounds of
skce_ntxent_tile_pair (a round's tiles share no rows, so they run in
parallel, each thread with its own work buffer of a few tiles; S is never
stored whole).  The tiling is fixed by the sizes alone and every row receives
its tiles' contributions in round order, so results are bitwise the same for
any number of threads.
"""
from cython.parallel cimport prange, threadid
from cython cimport floating

import numpy as np

from skce._kernels cimport *

# Rows per parallel work item of the packing and gradient-row passes.
cdef Py_ssize_t ROW_BLOCK = 256


cdef inline Py_ssize_t _round_up(Py_ssize_t x, Py_ssize_t m) noexcept nogil:
    return (x + m - 1) // m * m


cdef void _tiles(bint grad, const skce_ntxent_options *opt, const floating *u,
                 const floating *up, double *m, double *s, double *spos, const double *lse,
                 double *g, double[:, ::1] work, int n_threads) noexcept nogil:
    """One pass (lse_tile, or grad_tile if grad) over every tile, round by round."""
    cdef Py_ssize_t n_tiles = opt.rows_pad // SKCE_NTX_TB
    cdef Py_ssize_t rnd, k
    for rnd in range(n_tiles + n_tiles % 2):
        # dynamic: the tiles cost the same, but other processes may stall a thread
        for k in prange(skce_ntxent_round_size(n_tiles, rnd), num_threads=n_threads,
                        schedule="dynamic"):
            if grad:
                if floating is double:
                    skce_ntxent_grad_tile_f64(rnd, k, opt, u, up, lse, g, &work[threadid(), 0])
                else:
                    skce_ntxent_grad_tile_f32(rnd, k, opt, u, up, lse, g, &work[threadid(), 0])
            elif floating is double:
                skce_ntxent_lse_tile_f64(rnd, k, opt, u, up, m, s, spos, &work[threadid(), 0])
            else:
                skce_ntxent_lse_tile_f32(rnd, k, opt, u, up, m, s, spos, &work[threadid(), 0])


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
    cdef Py_ssize_t n_rb = (M + ROW_BLOCK - 1) // ROW_BLOCK
    cdef Py_ssize_t b_, r0, r1
    cdef double total
    cdef double[::1] norms, m, s, spos, lse
    cdef double[:, ::1] work, g
    cdef floating[::1] u, up
    cdef Py_ssize_t[::1] bad
    if N == 0 or D == 0:
        raise ValueError("nt_xent needs N >= 1 rows and D >= 1 columns")
    opt.n = N
    opt.dim = D
    # tile widths: 12 columns (double), 24 (float)
    kw = SKCE_NTX_KW if floating is double else SKCE_NTX_KW_F32
    opt.dim_pad = _round_up(D, kw)
    opt.rows_pad = _round_up(M, SKCE_NTX_TB)
    opt.inv_temperature = 1.0 / temperature
    opt.grad_scale = grad_scale
    opt.normalize = normalize
    dtype = np.float64 if floating is double else np.float32
    u = np.zeros(opt.rows_pad * opt.dim_pad, dtype=dtype)
    up = np.zeros(opt.rows_pad * D, dtype=dtype)
    norms = np.empty(M)
    bad = np.full(n_rb, -1, dtype=np.intp)
    with nogil:
        for b_ in prange(n_rb, num_threads=n_threads, schedule="static"):
            r0 = b_ * ROW_BLOCK
            r1 = min(r0 + ROW_BLOCK, M)
            if floating is double:
                bad[b_] = skce_ntxent_pack_block_f64(r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs,
                                                     &u[0], &up[0], &norms[0])
            else:
                bad[b_] = skce_ntxent_pack_block_f32(r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs,
                                                     &u[0], &up[0], &norms[0])
    for b_ in range(n_rb):
        if bad[b_] >= 0:
            return 0.0, bad[b_]

    work = np.empty((max(n_threads, 1), <Py_ssize_t>skce_ntxent_work_size(&opt)))
    m = np.full(M, -np.inf)
    s = np.zeros(M)
    spos = np.empty(M)
    if grad_a is not None:
        lse = np.empty(opt.rows_pad)
        lse_p = &lse[0]
        gas = strides2(grad_a.strides[0], grad_a.strides[1], sizeof(floating))
        gbs = strides2(grad_b.strides[0], grad_b.strides[1], sizeof(floating))
        ga = &grad_a[0, 0]
        gb = &grad_b[0, 0]
    if loss_out is not None:
        lo = &loss_out[0]
    with nogil:
        _tiles(False, &opt, &u[0], &up[0], &m[0], &s[0], &spos[0], NULL, NULL, work, n_threads)
        if floating is double:
            total = skce_ntxent_lse_finish_f64(&opt, &m[0], &s[0], &spos[0], lse_p, lo)
        else:
            total = skce_ntxent_lse_finish_f32(&opt, &m[0], &s[0], &spos[0], lse_p, lo)
    if ga == NULL:
        return total, -1
    g = np.zeros((opt.rows_pad, opt.dim_pad))
    with nogil:
        _tiles(True, &opt, &u[0], &up[0], NULL, NULL, NULL, lse_p, &g[0, 0], work, n_threads)
        for b_ in prange(n_rb, num_threads=n_threads, schedule="static"):
            r0 = b_ * ROW_BLOCK
            r1 = min(r0 + ROW_BLOCK, M)
            if floating is double:
                skce_ntxent_grad_rows_f64(r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs, &norms[0],
                                          &g[0, 0], ga, gas, gb, gbs, &work[threadid(), 0])
            else:
                skce_ntxent_grad_rows_f32(r0, r1, &opt, &a[0, 0], as_, &b[0, 0], bs, &norms[0],
                                          &g[0, 0], ga, gas, gb, gbs, &work[threadid(), 0])
    return total, -1
