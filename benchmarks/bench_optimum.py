"""Time to reach the optimum of the L2 logistic objective: skce against its peers.

    OMP_NUM_THREADS=1 python benchmarks/bench_optimum.py [--quick] [--datasets letter,a9a]
        [--threads 1] [--budget 120] [--plot] [--solvers "skce lbfgs,cyanure"]

The objective (skce's, see skce/_solver/_objective.py) is the multinomial
(binary: logistic) mean loss plus alpha/2 ||W||^2 with alpha = 1/n, the
optimum of ``LogisticRegression(C=1)``.  F* is the least objective any
solver reaches (each at tol=1e-10); a solver's time to suboptimality s is
the training time until (F - F*) / F* <= s, for s = 1e-2 ... 1e-8:

* skce ``SoftmaxClassifier(solver="lbfgs", tol=1e-10)``,
  ``SoftmaxClassifier(solver="svrg", tol=1e-10)`` (batch_size 256, the
  default, and 64) and skce's default fit (Adam): one fit each, the
  objective after every iteration / epoch read by the fit callback (its
  time excluded; --repeat runs each that many times and reports the median
  time per level);
* scikit-learn ``LogisticRegression`` (lbfgs, saga), ``SGDClassifier``
  (log_loss; one-vs-rest for more than two classes, so not a minimizer of
  this objective), sklearnex's ``LogisticRegression``, cyanure's
  ``Classifier`` and, on binary sets, snapml's ``LogisticRegression`` (dual;
  it penalizes the intercept, so it stops near F*) (when installed; skipped
  cleanly when absent): one fit per
  tol in 1e-1 ... 1e-10, each timed alone; a run slower than --budget
  seconds ends the sweep.

Data: letter (20,000 x 16, 26 classes, standardized) and a9a (32,561 x 123
CSR, 2 classes) from ../shared/data beside the repository root (or
SKCE_BENCH_DATA); a dense synthetic set (240,000 x 100, 10 classes) and a
sparse text-like one (160,000 x 20,000, 20 classes, 40 nonzeros per row,
Zipf-distributed columns, rows of unit norm), generated; --quick shrinks the
generated sets to 60,000 x 100 and 40,000 x 5,000.  Prints one table per set
(seconds to each suboptimality; '-' never reached) with the ratio of the
fastest peer (LogisticRegression lbfgs and, binary, newton-cholesky;
sklearnex; cyanure) to skce lbfgs and (binary) skce newton-cholesky at 1e-8,
and saves suboptimality-vs-time plots to benchmarks/results/ with --plot
(needs matplotlib).
"""
import argparse
import gzip
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from benchmarks.common import DATA, read_letter, settle   # (SKCE_BENCH_DATA overrides DATA)

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
TOLS = [10.0 ** -k for k in range(1, 11)]
PEERS = ("LogisticRegression(lbfgs)", "LogisticRegression(newton-cholesky)", "sklearnex",
         "cyanure")


# -- data --------------------------------------------------------------------
def load(name, quick):
    """(X, y) or None when the file is absent."""
    rng = np.random.default_rng(0)
    if name == "letter":
        data = read_letter()
        if data is None:
            return None
        X, y = data
        return (X - X.mean(0)) / X.std(0), y
    if name == "a9a":
        from sklearn.datasets import load_svmlight_file
        path = DATA / "a9a.gz"
        if not path.exists():
            return None
        with gzip.open(path) as f:
            X, y = load_svmlight_file(f, n_features=123)
        return _int32_indices(X.tocsr()), (y > 0).astype(int)
    if name == "synthetic":
        n, d, K = (60_000 if quick else 240_000), 100, 10
        X = rng.standard_normal((n, d))
        W = rng.standard_normal((d, K)) * (rng.random(d) < 0.6)[:, None] / np.sqrt(d) * 3
        return X, np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    if name == "sparse":
        n, d, K, nnz = (40_000, 5_000, 20, 40) if quick else (160_000, 20_000, 20, 40)
        p = 1.0 / (np.arange(d) + 10.0)
        cols = rng.choice(d, size=(n, nnz), p=p / p.sum())
        X = sp.csr_matrix((np.ones(n * nnz), cols.ravel(), np.arange(0, n * nnz + 1, nnz)),
                          shape=(n, d))
        X.sum_duplicates()
        X.data = 1 + np.log(X.data)   # sublinear term frequency
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        X = _int32_indices((sp.diags(1 / norms) @ X).tocsr())
        W = rng.standard_normal((d, K)) * (rng.random((d, K)) < 0.05) * 8
        return X, np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    raise ValueError(f"unknown data set {name!r}")


def _int32_indices(X):
    """CSR with int32 indices (saga and SGDClassifier refuse int64 ones)."""
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X


def objective_of(X, y):
    """F(coef (K, d) or (d,), intercept) of skce's objective with alpha = 1/n."""
    from skce import SoftmaxClassifier
    from skce._solver._objective import LinearObjective

    clf = SoftmaxClassifier()
    clf.classes_, y_idx = np.unique(y, return_inverse=True)
    obj = LinearObjective(X, clf._loss_spec(y_idx.astype(np.int64), X.dtype),
                          l2=1.0 / X.shape[0])
    K = obj.n_outputs

    def F(coef, intercept):
        coef = np.asarray(coef, np.float64).reshape(K, -1)
        return obj.loss(obj.pack(coef.T, np.asarray(intercept, np.float64).ravel()))
    return F, K


# -- solvers -----------------------------------------------------------------
def skce_trace(make, X, y, F):
    """[(seconds, objective)] of one fit, read by its callback (time excluded)."""
    trace, excluded = [], [0.0]
    settle()
    t0 = time.perf_counter()

    def callback(it, coef, intercept, objective):
        t = time.perf_counter()
        trace.append((t - t0 - excluded[0], objective))
        excluded[0] += time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make().fit(X, y, callback=callback)
    return trace


def sweep(make, X, y, F, budget, binary):
    """[(seconds, objective)] of one fit per tol (a fit over budget ends it)."""
    trace = []
    for tol in TOLS:
        est = make(tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            settle()
            t0 = time.perf_counter()
            est.fit(X, y)
            elapsed = time.perf_counter() - t0
        coef, intercept = np.asarray(est.coef_), np.asarray(est.intercept_)
        if coef.ndim == 2 and coef.shape[0] == X.shape[1] and coef.shape[0] != coef.shape[1]:
            coef = coef.T   # cyanure: (n_features, n_classes)
        trace.append((elapsed, F(coef, intercept)))
        if elapsed > budget:
            break
    return trace


def solvers(n, binary, threads):
    """name -> ("trace" | "sweep", factory)."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from skce import SoftmaxClassifier

    out = {
        "skce lbfgs": ("trace", lambda: SoftmaxClassifier(
            solver="lbfgs", alpha=1.0 / n, tol=1e-10, max_iter=10_000, n_jobs=threads)),
        "skce svrg": ("trace", lambda: SoftmaxClassifier(
            solver="svrg", alpha=1.0 / n, tol=1e-10, max_iter=300, random_state=0,
            n_jobs=threads)),
        "skce svrg (batch 64)": ("trace", lambda: SoftmaxClassifier(
            solver="svrg", alpha=1.0 / n, tol=1e-10, max_iter=300, batch_size=64,
            random_state=0, n_jobs=threads)),
        "skce default (auto)": ("trace", lambda: SoftmaxClassifier(
            alpha=1.0 / n, random_state=0, n_jobs=threads)),
        "LogisticRegression(newton-cholesky)": ("sweep", lambda tol: LogisticRegression(
            C=1.0, solver="newton-cholesky", tol=tol, max_iter=1_000)),
        "LogisticRegression(lbfgs)": ("sweep", lambda tol: LogisticRegression(
            C=1.0, tol=tol, max_iter=10_000)),
        "LogisticRegression(saga)": ("sweep", lambda tol: LogisticRegression(
            C=1.0, solver="saga", tol=tol, max_iter=1_000, random_state=0)),
        "SGDClassifier(log_loss)": ("sweep", lambda tol: SGDClassifier(
            loss="log_loss", alpha=1.0 / n, tol=tol, max_iter=1_000, random_state=0)),
    }
    if binary:   # Newton's method with the exact Hessian: one output only
        out["skce newton-cholesky"] = ("trace", lambda: SoftmaxClassifier(
            solver="newton-cholesky", alpha=1.0 / n, tol=1e-10, max_iter=100, n_jobs=threads))
    else:
        del out["LogisticRegression(newton-cholesky)"]   # (multinomial: d K x d K Hessian)
    try:
        from sklearnex.linear_model import LogisticRegression as ExLogisticRegression
        out["sklearnex"] = ("sweep", lambda tol: ExLogisticRegression(
            C=1.0, tol=tol, max_iter=10_000))
    except ImportError:
        print("sklearnex not installed: skipped")
    try:
        from cyanure.estimators import Classifier
        out["cyanure"] = ("sweep", lambda tol: Classifier(
            loss="logistic" if binary else "multiclass-logistic", penalty="l2",
            lambda_1=1.0 / n, tol=tol, max_iter=10_000, verbose=False, n_threads=threads))
    except ImportError:
        print("cyanure not installed: skipped")
    try:
        import snapml
        if binary:   # (more classes: one-vs-rest, not this objective's minimizer)
            # sum of losses + regularizer/2 ||w||^2: C = 1 is regularizer = 1; its dual
            # solver penalizes the intercept too (intercept_scaling, as liblinear),
            # so it stops near, not at, F*
            out["snapml (dual)"] = ("sweep", lambda tol: snapml.LogisticRegression(
                regularizer=1.0, tol=tol, fit_intercept=True, dual=True, max_iter=100_000,
                n_jobs=threads))
    except ImportError:
        print("snapml not installed: skipped")
    return out


def time_to(trace, f_star, level):
    """Least time at which the trace's suboptimality is <= level, or None."""
    times = [t for t, f in trace if (f - f_star) / f_star <= level]
    return min(times) if times else None


def time_to_median(traces, f_star, level):
    """Median over repeated traces of the time to `level` (None unless every run reached it)."""
    times = [time_to(trace, f_star, level) for trace in traces]
    return None if any(t is None for t in times) else float(np.median(times))


def epochs_to(trace, f_star, level):
    """Iterations (epochs) of a trace until its suboptimality is <= level, or None."""
    hits = [k for k, (_, f) in enumerate(trace, 1) if (f - f_star) / f_star <= level]
    return hits[0] if hits else None


def run(name, quick, threads, budget, plot, only=None, repeat=1):
    data = load(name, quick)
    if data is None:
        print(f"{name}: data file not found under {DATA}: skipped")
        return None
    X, y = data
    F, K = objective_of(X, y)
    binary = K == 1
    print(f"\n== {name}: {X.shape[0]} x {X.shape[1]}"
          f"{' CSR' if sp.issparse(X) else ''}, {len(np.unique(y))} classes")
    traces = {}
    for label, (kind, make) in solvers(X.shape[0], binary, threads).items():
        if only and not any(o.lower() in label.lower() for o in only):
            continue
        t0 = time.perf_counter()
        try:
            traces[label] = ([skce_trace(make, X, y, F) for _ in range(repeat)] if kind == "trace"
                             else [sweep(make, X, y, F, budget, binary)])
        except Exception as exc:   # a peer that cannot run this set
            print(f"  {label}: failed ({type(exc).__name__}: {exc})")
            continue
        print(f"  {label}: {len(traces[label][0])} points, {time.perf_counter() - t0:.1f} s")
    f_star = min(f for runs in traces.values() for trace in runs for _, f in trace)
    rows = {label: [time_to_median(runs, f_star, s) for s in LEVELS]
            for label, runs in traces.items()}
    print(f"  F* = {f_star:.12g}; seconds to (F - F*)/F* <= level:")
    header = f"  {'solver':36s}" + "".join(f"{s:>9.0e}" for s in LEVELS)
    print(header)
    for label, times in rows.items():
        print(f"  {label:36s}" + "".join(
            f"{t:9.3f}" if t is not None else f"{'-':>9s}" for t in times))
    print("  iterations (skce: epochs) to the level:")
    for label, runs in traces.items():
        if label.startswith("skce"):
            print(f"  {label:36s}" + "".join(
                f"{e:9d}" if e is not None else f"{'-':>9s}"
                for e in (epochs_to(runs[0], f_star, s) for s in LEVELS)))
    peers = [rows[p][-1] for p in PEERS if p in rows and rows[p][-1] is not None]
    for ours in ("skce lbfgs", "skce newton-cholesky"):
        t = rows.get(ours, [None])[-1]
        if t and peers:
            print(f"  fastest peer / {ours} at 1e-8: {min(peers) / t:.2f}x")
    if plot:
        _plot(name, {label: runs[0] for label, runs in traces.items()}, f_star)
    return rows


def _plot(name, traces, f_star):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  matplotlib not installed: no plot")
        return
    RESULTS.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, trace in traces.items():
        t = [p[0] for p in trace]
        s = [max((p[1] - f_star) / f_star, 1e-16) for p in trace]
        ax.loglog(t, s, marker="." if len(t) < 30 else None, label=label)
    ax.axhline(1e-8, color="gray", lw=0.5)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("(F - F*) / F*")
    ax.set_title(name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = RESULTS / f"optimum_{name}.png"
    fig.savefig(path, dpi=120)
    print(f"  plot: {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="letter,a9a,synthetic,sparse")
    parser.add_argument("--quick", action="store_true", help="smaller generated sets")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of every solver (BLAS, OpenMP, n_jobs)")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds: a sweep run slower than this ends the sweep")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="fits per skce solver (median time per level)")
    parser.add_argument("--solvers", default="",
                        help="comma-separated substrings of the solver names to run (default all)")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)   # cyanure logs every fit's label conversion
    from threadpoolctl import threadpool_limits
    with threadpool_limits(args.threads):
        only = [s for s in args.solvers.split(",") if s]
        return {name: run(name, args.quick, args.threads, args.budget, args.plot, only,
                          args.repeat)
                for name in args.datasets.split(",")}


if __name__ == "__main__":
    main()
