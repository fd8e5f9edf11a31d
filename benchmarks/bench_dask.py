"""When does the dask path pay off?  skce.dask.SoftmaxClassifier on a
LocalCluster of 1, 2 and 4 single-threaded worker processes against the
in-memory fit of the same objective (L-BFGS in this process).

Prints per configuration: wall time of fit, L-BFGS rounds (objective
evaluations), time per round, bytes shipped per round (parameters out to
every worker + one gradient back per block), the scheduler's own round-trip
for a round of the same shape doing no work, and the overhead per round
as a multiple of that round-trip; then the optimum and the accuracy against
the in-memory fit: the relative difference of the objective, the held-out
accuracy difference (a quarter as many rows again, drawn with the training
rows) and the fraction of held-out predictions that agree.  The overhead is
the round time less the workers' compute: the compute each worker spent in
its blocks' loss and
gradient tasks, by dask's own task stream (summed over the fit; the busiest
worker's sum / rounds, which bounds the mean slowest-worker compute of a
round from below, so the overhead is bounded from above).  For comparison
"1-block ms" is one block of n/workers rows timed here on one thread with
the cores otherwise idle: on a shared machine the workers run slower than
that (they share the cores and the memory bandwidth with each other).

    python benchmarks/bench_dask.py                 # 240,000 x 100, 10 classes
    python benchmarks/bench_dask.py --rows 20000    # smoke run

On a 2-core machine 4 workers oversubscribe the cores: that row shows the
communication pattern of 4 workers, not their speed.
"""
import argparse
import statistics
import time
import warnings

import numpy as np


def _data(rows, d, k, seed=0):
    from sklearn.datasets import make_classification
    X, y = make_classification(rows, d, n_informative=d // 2, n_classes=k,
                               n_clusters_per_class=1, random_state=seed)
    return X.astype(np.float64), y


def _noop_round(client, blocks, theta):
    """A round of the same shape (one task per block, results summed) doing no work."""
    from skce.dask import _blocks
    t0 = time.perf_counter()
    client.gather(client.map(_blocks.noop, blocks, theta=theta, pure=False))
    return time.perf_counter() - t0


def _busiest_worker_compute(records, prefix):
    """Seconds the busiest worker spent computing tasks whose key starts with
    `prefix`, from dask's task-stream records."""
    per_worker = {}
    for r in records:
        key = r["key"] if isinstance(r["key"], str) else str(r["key"][0])
        if not key.startswith(prefix):
            continue
        busy = sum(s["stop"] - s["start"] for s in r["startstops"] if s["action"] == "compute")
        per_worker[r["worker"]] = per_worker.get(r["worker"], 0.0) + busy
    return max(per_worker.values(), default=0.0)


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=240_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--tol", type=float, default=1e-8)
    args = ap.parse_args(argv)

    import dask.array as da
    from distributed import Client, LocalCluster, get_task_stream
    from threadpoolctl import threadpool_limits

    import skce.dask as skd
    from skce import SoftmaxClassifier
    from skce._solver._objective import LinearObjective

    X, y = _data(args.rows + args.rows // 4, args.features, args.classes)
    X, X_test, y, y_test = X[:args.rows], X[args.rows:], y[:args.rows], y[args.rows:]
    n, d = X.shape
    alpha = 1.0 / n
    K = args.classes
    P = (d + 1) * K
    print(f"data: {n} x {d}, {K} classes, float64 ({X.nbytes / 1e6:.0f} MB); alpha = 1/n; "
          f"tol = {args.tol:g}")

    # in memory: the same objective, solver and options, one process
    local = SoftmaxClassifier(solver="lbfgs", alpha=alpha, tol=args.tol, max_iter=1000)
    t0 = time.perf_counter()
    local.fit(X, y)
    t_local = time.perf_counter() - t0
    loss = local._loss_spec(local._encode(y), X.dtype)
    objective = LinearObjective(X, loss, l2=alpha)
    evals = []
    for _ in range(5):
        t0 = time.perf_counter()
        objective.loss_gradient_sum(np.zeros(P))
        evals.append(time.perf_counter() - t0)

    def block_compute(w):
        """A worker's compute per round: the block objective of n/w rows on one
        thread (a dask worker's OMP_NUM_THREADS=1; the in-memory evaluation
        above may use more BLAS threads, which would count as overhead)."""
        rows = -(-n // w)
        block = LinearObjective(X[:rows], local._loss_spec(local._encode(y[:rows]), X.dtype),
                                n_threads=1)
        with threadpool_limits(1):
            return statistics.median(
                _timed(lambda: block.loss_gradient_sum(np.zeros(P))) for _ in range(7))

    def f_of(est):
        return objective.loss(objective.pack(est.coef_.T, est.intercept_))
    f_local = f_of(local)
    pred_local = local.predict(X_test)
    print(f"in-memory SoftmaxClassifier(solver='lbfgs'): {t_local:.2f} s, {local.n_iter_} "
          f"iterations, {statistics.median(evals) * 1e3:.1f} ms per evaluation (median of 5), "
          f"held-out accuracy {np.mean(pred_local == y_test):.4f} ({len(y_test)} rows)")

    header = (f"{'workers':>7s} {'fit s':>7s} {'vs mem':>7s} {'rounds':>6s} {'ms/round':>8s} "
              f"{'compute':>7s} {'1-block':>7s} {'KB/round':>8s} {'noop ms':>8s} "
              f"{'overhead/noop':>13s} {'rel. F diff':>11s} {'acc diff':>8s} {'same pred':>9s}")
    print(header)
    print("-" * len(header))
    for w in args.workers:
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=40) as cluster, \
                Client(cluster) as client:
            chunks = -(-n // w)
            Xd = da.from_array(X, chunks=(chunks, -1)).persist()
            yd = da.from_array(y, chunks=chunks).persist()
            est = skd.SoftmaxClassifier(alpha=alpha, tol=args.tol, max_iter=1000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(Xd, yd)   # warm-up: imports on the workers
                with get_task_stream(client) as stream:   # the workers' compute
                    est.fit(Xd, yd)
                stream_rounds = est.n_rounds_
                t0 = time.perf_counter()   # the wall time, without the task stream
                est.fit(Xd, yd)
                t_fit = time.perf_counter() - t0
            rounds = est.n_rounds_
            per_round = t_fit / rounds
            compute = _busiest_worker_compute(stream.data, "loss_gradient") / stream_rounds
            blocks = client.compute(Xd.to_delayed().ravel().tolist())
            noop = statistics.median(_noop_round(client, blocks, np.zeros(P)) for _ in range(15))
            overhead = max(per_round - compute, 0.0)
            shipped = P * 8 * (w + len(blocks))
            f_dask = f_of(est)
            pred = np.asarray(est.predict(X_test))   # a numpy X: predicted here, no graph
            print(f"{w:7d} {t_fit:7.2f} {t_local / t_fit:6.2f}x {rounds:6d} {per_round * 1e3:8.1f} "
                  f"{compute * 1e3:7.1f} {block_compute(w) * 1e3:7.1f} {shipped / 1e3:8.1f} "
                  f"{noop * 1e3:8.1f} {overhead / noop:12.2f}x {(f_dask - f_local) / f_local:11.1e} "
                  f"{np.mean(pred == y_test) - np.mean(pred_local == y_test):8.4f} "
                  f"{np.mean(pred == pred_local):9.4f}")
            client.cancel(blocks)


if __name__ == "__main__":
    main()
