"""Epoch time on CSR data: lazy vs eager updates, against the products' floor.

    python benchmarks/bench_sparse.py [--quick] [--threads 1] [--repeat 3]

One training epoch (minibatches of 256, shuffled) of the compiled loop,
`skce._solver._epoch.epoch_csr`, timed alone (no fit overhead), for plain SGD
and Adam, each with and without averaging, with the lazy updates of CSR
steps (the default: only the weight rows a batch touches) and with eager ones
(every row, every step: `_set_lazy_csr(False)`, the cost before lazy updates).
Reference times at the same shapes: one ``X @ W`` plus one ``X.T @ G`` with
scipy.sparse (the products an epoch must do), and one epoch of
scikit-learn's ``SGDClassifier`` (``max_iter=1``, all its one-vs-rest models).

Two sweeps on random CSR data (20 classes, uniform column indices, the
worst case for locality): epoch time vs nonzeros per row at d = 20,000, and
vs d at 40 nonzeros per row (lazy steps must not grow with d; the eager ones
grow as d K per step).  Medians of --repeat runs, CPU time of this process
(the machine has 2 cores shared with others: wall time is noisier).
"""
import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp

from skce._loss import LOSSES
from skce._solver import LossSpec, OptimizerSpec, SolverState, _epoch

K, BATCH = 20, 256


def make(n, d, nnz_row, rng):
    X = sp.csr_matrix((rng.standard_normal(n * nnz_row),
                       rng.integers(0, d, n * nnz_row).astype(np.int32),
                       np.arange(n + 1) * nnz_row), shape=(n, d))
    X.sum_duplicates()
    return X, rng.integers(0, K, n)


def cpu_median(f, repeat):
    times = []
    for _ in range(repeat):
        t = time.process_time()
        f()
        times.append(time.process_time() - t)
    return float(np.median(times))


def epoch(X, y, solver, average, lazy, threads, order):
    """A function that runs one epoch; the state is made here, outside the
    timing (a fit allocates it once; its first touch of fresh pages is not
    an epoch's cost)."""
    n, d = X.shape
    opt = OptimizerSpec(solver=solver, eta0=0.01, momentum=0.0)
    state = SolverState.new(d, K, np.float64, 0.01, average=average)
    settings = _epoch.EpochSettings(LossSpec.of(LOSSES["cross_entropy"], K, y=y), opt, state,
                                    n_threads=threads)

    def run():
        previous = _epoch._set_lazy_csr(lazy)
        try:
            _epoch.epoch_csr(settings, X.data, X.indices, X.indptr, d, order, BATCH)
        finally:
            _epoch._set_lazy_csr(previous)
    run()   # warm: the state's pages and the lazy buffers
    return run


def row(X, y, args, rng):
    from sklearn.linear_model import SGDClassifier
    n, d = X.shape
    order = rng.permutation(n).astype(np.int64)
    W, G = rng.standard_normal((d, K)), rng.standard_normal((n, K))
    out = {"products": cpu_median(lambda: (X @ W, X.T @ G), args.repeat)}
    for solver in ("sgd", "adam"):
        for average in (False, True):
            for lazy in (True, False):
                key = f"{solver}{'+avg' if average else ''} {'lazy' if lazy else 'eager'}"
                out[key] = cpu_median(epoch(X, y, solver, average, lazy, args.threads, order),
                                      args.repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["SGDClassifier"] = cpu_median(
            lambda: SGDClassifier(max_iter=1, tol=None, random_state=0).fit(X, y), args.repeat)
    return out


def show(label, out):
    lazy = out["sgd+avg lazy"]
    print(f"{label}: " + ", ".join(f"{k} {v:.3f}s" for k, v in out.items()))
    print(f"    sgd+avg lazy / products {lazy / out['products']:.2f}x, "
          f"SGDClassifier / sgd+avg lazy {out['SGDClassifier'] / lazy:.2f}x, "
          f"eager / lazy: sgd+avg {out['sgd+avg eager'] / lazy:.2f}x, "
          f"adam+avg {out['adam+avg eager'] / out['adam+avg lazy']:.2f}x", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 rows, fewer points")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n = 50_000 if args.quick else 200_000
    print(f"{n} rows, {K} classes, batch {BATCH}, {args.threads} thread(s); CPU seconds, "
          f"median of {args.repeat}")
    print("-- vs nonzeros per row, d = 20,000")
    for nnz_row in ((10, 40) if args.quick else (10, 40, 160)):
        show(f"nnz/row {nnz_row}", row(*make(n, 20_000, nnz_row, rng), args, rng))
    print("-- vs d, 40 nonzeros per row")
    growth = {}
    for d in ((20_000, 200_000) if args.quick else (2_000, 20_000, 200_000)):
        out = row(*make(n, d, 40, rng), args, rng)
        growth[d] = out
        show(f"d {d}", out)
    ds = sorted(growth)
    for key in ("sgd+avg lazy", "adam+avg lazy", "sgd+avg eager"):
        print(f"    {key}: epoch time x{growth[ds[-1]][key] / growth[ds[-2]][key]:.2f} "
              f"for d x{ds[-1] // ds[-2]}")


if __name__ == "__main__":
    main()
