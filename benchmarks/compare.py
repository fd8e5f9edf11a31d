"""skce vs scikit-learn vs PyTorch CPU vs the memory floor, side by side, in one run.

    python benchmarks/compare.py [--quick] [--repeat N] [--threads T] [--no-plot]

Prints one table (time = median of --repeat runs, at least 15 for the
kernels; an epoch's time is the median epoch of --repeat fits; in seconds; score = test
accuracy, or R^2 for regressors; ratio = this row's time / the time of the
task's reference row, marked "ref"; in the "ratios" task the ratio column is
the derived quantity itself):

  kernels    softmax cross-entropy loss + gradient on 1,000,000 x 10 logits
             (float64, float32): skce's kernel and scikit-learn's
             HalfMultinomialLoss().loss_gradient(n_threads=T) into
             preallocated outputs, the np.copyto floor; the public calls
             (allocating their outputs): skce.losses.cross_entropy,
             HalfMultinomialLoss, torch F.cross_entropy forward + backward;
             hinge and MSE kernels against the copy floor (torch MSE beside);
             ratios: sklearn/skce, kernel/floor, float64/float32, 1 -> T
             threads.
  estimators on letter, a9a (CSR, as LIBSVM ships it, its own test set) and
             the synthetic set (make_classification(300_000, 100 features,
             60 informative, 10 classes), standardized, stratified 80/20 split): LogisticRegression(lbfgs,
             max_iter=1000), SGDClassifier(log_loss), SoftmaxClassifier()
             (default fit, and training time until the test accuracy reaches
             LogisticRegression's - 0.3 pt, via an epoch callback, as
             benchmarks/bench_softmax.py), a PyTorch nn.Linear + Adam loop
             (batch 256, lr 0.01, weight decay = alpha on the weights, float64,
             at most as many epochs as the default SoftmaxClassifier ran;
             time to the same target), LinearSVC vs LinearSVM; Ridge and
             SGDRegressor vs LinearRegressor on make_regression(500_000, 100).
  epoch      one SoftmaxClassifier epoch on the dense synthetic train set vs
             one X @ W (d x C) plus one G.T @ X with numpy, in the same run;
             epochs at batch_size=4096 and 16384 on 1 and T threads (speed-up);
             an a9a epoch in CSR vs the same data dense; peak memory of fit on
             float32 X vs the size of X, in a subprocess: peak RSS during fit
             minus RSS before it (Linux: VmHWM reset through
             /proc/self/clear_refs; elsewhere ru_maxrss growth), and the
             tracemalloc peak (numpy and Python allocations only).

Also writes benchmarks/results/accuracy_vs_time.png: test accuracy against
wall time (training only) for each estimator on letter and the synthetic set.
torch, matplotlib and the data files (../shared/data beside the repository,
or the folder $SKCE_BENCH_DATA names) are optional: what is
missing is skipped with a note.  --quick: small sizes, 1 repeat (a smoke run,
its numbers mean little).
"""
import argparse
import gzip
import inspect
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_losses import ce_kernel, elementwise_kernel, median_time  # noqa: E402
from bench_softmax import DATA, time_to_target, timed_fit  # noqa: E402
from bench_svm_regressor import load as load_reference_set  # noqa: E402

RESULTS = HERE / "results"
TARGET_GAP = 0.003  # LogisticRegression's test accuracy - 0.3 pt

FULL = dict(kernel_rows=1_000_000, synthetic_rows=300_000, letter_cap=None,
            regression_rows=500_000, peak_rows=500_000, max_epochs=200, torch_epochs=None,
            epoch_epochs=4, large_batches=(4096, 16384),
            lr_curve=(5, 10, 20, 50, 100, 200), sgd_curve=(1, 2, 5, 10),
            svc_curve=(10, 100))
QUICK = dict(kernel_rows=20_000, synthetic_rows=6_000, letter_cap=3_000,
             regression_rows=5_000, peak_rows=20_000, max_epochs=100, torch_epochs=10,
             epoch_epochs=3, large_batches=(512,),
             lr_curve=(5,), sgd_curve=(1,), svc_curve=())


@dataclass
class Row:
    task: str
    who: str
    time: float = None
    score: float = None
    ratio: float = None
    note: str = ""


class Table:
    def __init__(self):
        self.rows = []

    def add(self, task, who, time=None, score=None, note="", ratio=None):
        row = Row(task, who, time, score, ratio, note)
        self.rows.append(row)
        return row

    def task_rows(self, task):
        return [r for r in self.rows if r.task == task]

    def set_ref(self, task, who):
        """ratio = time / the time of `who` for every timed row of `task`."""
        rows = self.task_rows(task)
        ref = next((r for r in rows if r.who == who), None)
        if ref is None or not ref.time:
            return
        ref.note = ("ref; " + ref.note) if ref.note else "ref"
        for r in rows:
            if r.time is not None:
                r.ratio = r.time / ref.time

    def print(self, file=None):
        header = f"{'task':44s} {'who':40s} {'time s':>10s} {'score':>7s} {'ratio':>8s}  note"
        print(header, file=file)
        print("-" * len(header), file=file)
        last = None
        for r in self.rows:
            task = r.task if r.task != last else ""
            last = r.task
            t = f"{r.time:10.4g}" if r.time is not None else " " * 10
            s = f"{r.score:7.4f}" if r.score is not None else " " * 7
            q = f"{r.ratio:8.3g}" if r.ratio is not None else " " * 8
            print(f"{task:44s} {r.who:40s} {t} {s} {q}  {r.note}", file=file)


_NOTED = set()


def _thr(T):
    return f"{T} thread" + ("s" if T != 1 else "")


def note(msg):
    if msg not in _NOTED:
        _NOTED.add(msg)
        print(f"note: {msg}", flush=True)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

def _split(X, y, stratify=True):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0,
                                          stratify=y if stratify else None)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def load(name, sizes):
    """Standardized (Xtr, Xte, ytr, yte) or None when the file is absent."""
    if name == "letter":
        path = DATA / "letter.scale.gz"
        if not path.exists():
            return None
        with gzip.open(path) as f:
            data = np.loadtxt(f)
        X, y = data[:, 1:], data[:, 0].astype(int)
        cap = sizes["letter_cap"]
        if cap:
            X, y = X[:int(cap * 1.25)], y[:int(cap * 1.25)]
        return _split(X, y)
    if name == "synthetic":
        from sklearn.datasets import make_classification
        X, y = make_classification(n_samples=sizes["synthetic_rows"], n_features=100,
                                   n_informative=60, n_classes=10, random_state=0)
        return _split(X, y)
    if name == "regression":
        from sklearn.datasets import make_regression
        X, y = make_regression(n_samples=sizes["regression_rows"], n_features=100,
                               n_informative=60, noise=10.0, random_state=0)
        Xtr, Xte, ytr, yte = _split(X, y, stratify=False)
        scale = ytr.std()  # y in units of its spread (R^2 unchanged)
        return Xtr, Xte, ytr / scale, yte / scale
    if name == "a9a":
        return load_reference_set("a9a")
    raise ValueError(name)


def _accepts_callback(est):
    return "callback" in inspect.signature(est.fit).parameters


def epoch_trace(make, Xtr, ytr, Xte, yte, regression=False):
    """[(training seconds, test score)] after every epoch, scoring excluded."""
    est = make()
    classes = np.unique(ytr) if not regression else None
    trace = []
    t_start = time.perf_counter()
    scoring = [0.0]

    def on_epoch(epoch, coef, intercept, objective):
        t0 = time.perf_counter()
        z = Xte @ coef.T + intercept
        if classes is None:
            acc = 1 - np.sum((yte - z.ravel()) ** 2) / np.sum((yte - yte.mean()) ** 2)
        elif z.shape[1] == 1:
            acc = np.mean(classes[(z[:, 0] > 0).astype(int)] == yte)
        else:
            acc = np.mean(classes[z.argmax(1)] == yte)
        trace.append((t0 - t_start - scoring[0], float(acc)))
        scoring[0] += time.perf_counter() - t0
        return False
    est.fit(Xtr, ytr, callback=on_epoch)
    return trace


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------

def kernels(table, sizes, repeat, T, torch):
    from sklearn._loss.loss import HalfMultinomialLoss

    from skce import losses
    from skce._loss import _elementwise

    n, C = sizes["kernel_rows"], 10
    rng = np.random.default_rng(0)
    ce = {}
    repeat = max(repeat, 15)   # calls of ~10 ms: more repeats cost little, steady the medians
    for dtype in (np.float64, np.float32):
        dt = np.dtype(dtype).name
        x = rng.standard_normal((n, C)).astype(dtype)
        y = rng.integers(0, C, n)
        y_float = y.astype(dtype)
        task = f"softmax CE loss+grad {n}x{C} {dt}"
        # kernels into preallocated outputs: the goals compare these
        grad, loss_rows, dst = np.empty_like(x), np.empty(n, dtype=dtype), np.empty_like(x)
        for threads in sorted({T, 1}, reverse=True):
            ce[dt, threads] = median_time(lambda: ce_kernel(x, y, grad, threads), repeat)
            table.add(task, f"skce CE kernel ({_thr(threads)})", ce[dt, threads],
                      note="outputs preallocated")
        sk = HalfMultinomialLoss(n_classes=C)
        sk_kernel = median_time(lambda: sk.loss_gradient(
            y_float, x, loss_out=loss_rows, gradient_out=grad, n_threads=T), repeat)
        table.add(task, f"sklearn HalfMultinomialLoss kernel ({_thr(T)})", sk_kernel,
                  note="outputs preallocated")
        copy = median_time(lambda: np.copyto(dst, x), repeat)
        table.add(task, "np.copyto floor (same array)", copy)
        # public calls, each allocating its outputs as a user's call does
        table.add(task, f"skce cross_entropy ({_thr(T)})", median_time(
            lambda: losses.cross_entropy(x, y, return_grad=True, n_threads=T), repeat),
            note="allocates its outputs")
        table.add(task, f"sklearn HalfMultinomialLoss ({_thr(T)})", median_time(
            lambda: sk.loss_gradient(y_float, x, n_threads=T), repeat))
        if torch is not None:
            import torch.nn.functional as F
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)

            def fwd_bwd():
                xr = xt.detach().requires_grad_(True)
                F.cross_entropy(xr, yt).backward()
                return xr.grad
            table.add(task, f"torch F.cross_entropy fwd+bwd ({T} thr)",
                      median_time(fwd_bwd, repeat))
        table.set_ref(task, f"skce CE kernel ({_thr(T)})")
        table.add("ratios", f"sklearn / skce CE kernel time {dt}", ratio=sk_kernel / ce[dt, T],
                  note=_thr(T))
        table.add("ratios", f"skce CE kernel / copy floor {dt}", ratio=ce[dt, T] / copy)

        # elementwise kernels against the floor
        x3 = x.reshape(n, 1, C)
        for name, kind, target in (
                ("hinge", _elementwise.HINGE,
                 np.where(rng.random((n, 1, C)) < 0.5, -1.0, 1.0).astype(dtype)),
                ("MSE", _elementwise.MSE, rng.standard_normal((n, 1, C)).astype(dtype))):
            task = f"{name} loss+grad {n}x{C} {dt}"
            g3 = grad.reshape(n, 1, C)
            t_kernel = median_time(lambda: elementwise_kernel(kind, x3, target, g3, T), repeat)
            table.add(task, f"skce {name} kernel ({_thr(T)})", t_kernel,
                      note="outputs preallocated")
            if torch is not None and name == "MSE":
                import torch.nn.functional as F
                xt, yt = torch.from_numpy(x), torch.from_numpy(target.reshape(n, C))

                def mse_fwd_bwd():
                    xr = xt.detach().requires_grad_(True)
                    F.mse_loss(xr, yt).backward()
                    return xr.grad
                table.add(task, f"torch F.mse_loss fwd+bwd ({T} thr)",
                          median_time(mse_fwd_bwd, repeat))
            table.add(task, "np.copyto floor (same array)", copy)
            table.set_ref(task, f"skce {name} kernel ({_thr(T)})")
            table.add("ratios", f"skce {name} kernel / copy floor {dt}", ratio=t_kernel / copy)
    table.add("ratios", "skce CE kernel float64 / float32 time",
              ratio=ce["float64", T] / ce["float32", T], note=_thr(T))
    if T != 1:
        for dt in ("float64", "float32"):
            table.add("ratios", f"skce CE kernel speed-up 1 -> {T} threads {dt}",
                      ratio=ce[dt, 1] / ce[dt, T], note="time(1) / time(T)")
    if torch is None:
        note("torch not installed: its rows are skipped")


# ---------------------------------------------------------------------------
# estimators
# ---------------------------------------------------------------------------

def torch_train(torch, Xtr, ytr, Xte, yte, target, max_epochs, alpha=1e-4, lr=0.01,
                batch_size=256, seed=0):
    """nn.Linear + Adam minibatch loop as skce's default (constant lr);
    returns (time to target or None, per-epoch trace, final accuracy)."""
    import torch.nn.functional as F

    classes, y_idx = np.unique(ytr, return_inverse=True)
    yte_idx = np.searchsorted(classes, yte)
    torch.manual_seed(seed)
    dense = [X.toarray() if hasattr(X, "toarray") else X for X in (Xtr, Xte)]
    X = torch.from_numpy(np.ascontiguousarray(dense[0]))
    Xt = torch.from_numpy(np.ascontiguousarray(dense[1]))
    y = torch.from_numpy(y_idx.astype(np.int64))
    model = torch.nn.Linear(X.shape[1], len(classes)).to(X.dtype)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.Adam([{"params": [model.weight], "weight_decay": alpha},
                            {"params": [model.bias], "weight_decay": 0.0}], lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    trace, t_hit, elapsed = [], None, 0.0
    for _ in range(max_epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        elapsed += time.perf_counter() - t0
        with torch.no_grad():
            acc = float((model(Xt).argmax(1).numpy() == yte_idx).mean())
        trace.append((elapsed, acc))
        if target is not None and acc >= target:
            t_hit = elapsed
            break
    return t_hit, trace, trace[-1][1]


def classifiers(table, name, data, sizes, repeat, T, torch, curves):
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.svm import LinearSVC

    import skce
    from skce import SoftmaxClassifier

    Xtr, Xte, ytr, yte = data
    task = f"{name} {Xtr.shape[0]}x{Xtr.shape[1]}, {len(np.unique(ytr))} cl: softmax"
    lr, t = timed_fit(lambda: LogisticRegression(max_iter=1000), Xtr, ytr, repeat)
    acc_lr = lr.score(Xte, yte)
    table.add(task, "sklearn LogisticRegression(lbfgs)", t, acc_lr)
    curve = {"LogisticRegression": []}
    for it in sizes["lr_curve"]:
        est, t_it = timed_fit(lambda: LogisticRegression(max_iter=it), Xtr, ytr, 1)
        curve["LogisticRegression"].append((t_it, est.score(Xte, yte)))
    curve["LogisticRegression"].append((t, acc_lr))

    sgd, t = timed_fit(lambda: SGDClassifier(loss="log_loss", random_state=0), Xtr, ytr,
                       repeat)
    table.add(task, "sklearn SGDClassifier(log_loss)", t, sgd.score(Xte, yte))
    curve["SGDClassifier(log_loss)"] = [
        (tt, e.score(Xte, yte)) for e, tt in
        (timed_fit(lambda: SGDClassifier(loss="log_loss", random_state=0, max_iter=it,
                                         tol=None), Xtr, ytr, 1)
         for it in sizes["sgd_curve"])] + [(t, sgd.score(Xte, yte))]

    make = lambda r=0: SoftmaxClassifier(random_state=r, n_jobs=T)  # noqa: E731
    default, t = timed_fit(make, Xtr, ytr, repeat)
    table.add(task, "skce SoftmaxClassifier() fit", t, default.score(Xte, yte),
              note=f"solver {getattr(default, 'solver_', default.solver)}, "
                   f"{default.n_iter_} iterations")
    adam, t = timed_fit(lambda: SoftmaxClassifier(solver="adam", random_state=0, n_jobs=T),
                        Xtr, ytr, repeat)
    table.add(task, "skce SoftmaxClassifier(solver='adam') fit", t, adam.score(Xte, yte),
              note=f"{adam.n_iter_} epochs")
    target = acc_lr - TARGET_GAP
    who_target = f"skce to LR acc - 0.3 pt ({target:.4f})"
    has_callback = _accepts_callback(default)
    if has_callback:
        reps = [time_to_target(lambda r=r: make(r), Xtr, ytr, Xte, yte, target,
                               sizes["max_epochs"]) for r in range(repeat)]
        hit = [r for r in reps if r[0] is not None]
    else:
        note("this SoftmaxClassifier.fit has no callback: no time-to-target or "
             "per-epoch curve")
    if not has_callback:
        pass
    elif len(hit) == len(reps):
        table.add(task, who_target, float(np.median([r[0] for r in hit])), reps[0][2],
                  note=f"{int(np.median([r[1] for r in reps]))} epochs")
    else:
        table.add(task, who_target, None, reps[0][2],
                  note=f"missed within {sizes['max_epochs']} epochs")
    curve["skce SoftmaxClassifier"] = (epoch_trace(make, Xtr, ytr, Xte, yte) if has_callback
                                       else [(t, default.score(Xte, yte))])

    if torch is not None:
        # as many epochs as skce's Adam fit ran (capped by --quick); the first
        # run goes on past the target, for the plot
        epochs = min(adam.n_iter_, sizes["torch_epochs"] or adam.n_iter_)
        _, trace, _ = torch_train(torch, Xtr, ytr, Xte, yte, None, epochs, seed=0)
        curve["torch Linear+Adam"] = trace
        first = next(((t, i + 1, a) for i, (t, a) in enumerate(trace) if a >= target), None)
        runs = [first] + [
            (lambda r: (r[0], len(r[1]), r[2]) if r[0] is not None else None)(
                torch_train(torch, Xtr, ytr, Xte, yte, target, epochs, seed=s))
            for s in range(1, repeat)]
        who = "torch Linear+Adam to the same target"
        if all(r is not None for r in runs):
            table.add(task, who, float(np.median([r[0] for r in runs])), runs[0][2],
                      note=f"{runs[0][1]} epochs")
        else:
            table.add(task, who, None, trace[-1][1],
                      note=f"missed within {epochs} epochs (skce's Adam fit ran "
                           f"{adam.n_iter_})")
    else:
        note("torch not installed: the PyTorch training rows are skipped")
    reached = any(r.who == who_target and r.time for r in table.task_rows(task))
    table.set_ref(task, who_target if reached else "skce SoftmaxClassifier() fit")

    task = f"{name}: linear SVM (squared hinge, C=1)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svc, t = timed_fit(lambda: LinearSVC(random_state=0), Xtr, ytr, repeat)
        table.add(task, "sklearn LinearSVC", t, svc.score(Xte, yte))
        curve["LinearSVC"] = [(tt, e.score(Xte, yte)) for e, tt in
                              (timed_fit(lambda: LinearSVC(random_state=0, max_iter=it),
                                         Xtr, ytr, 1) for it in sizes["svc_curve"])]
        curve["LinearSVC"].append((t, svc.score(Xte, yte)))
    if hasattr(skce, "LinearSVM"):
        make_svm = lambda: skce.LinearSVM(random_state=0, n_jobs=T)  # noqa: E731
        svm, t = timed_fit(make_svm, Xtr, ytr, repeat)
        table.add(task, "skce LinearSVM() fit", t, svm.score(Xte, yte),
                  note=f"{svm.n_iter_} epochs")
        curve["skce LinearSVM"] = (epoch_trace(make_svm, Xtr, ytr, Xte, yte)
                                   if _accepts_callback(svm) else [(t, svm.score(Xte, yte))])
        table.set_ref(task, "skce LinearSVM() fit")
    else:
        note("this skce has no LinearSVM (branch svm-regressor): its row is skipped")
    curves[name] = curve


def regressors(table, data, repeat, T):
    from sklearn.linear_model import Ridge, SGDRegressor

    import skce

    Xtr, Xte, ytr, yte = data
    task = f"make_regression {Xtr.shape[0]}x{Xtr.shape[1]} (R^2)"
    est, t = timed_fit(lambda: Ridge(), Xtr, ytr, repeat)
    table.add(task, "sklearn Ridge", t, est.score(Xte, yte))
    est, t = timed_fit(lambda: SGDRegressor(random_state=0), Xtr, ytr, repeat)
    table.add(task, "sklearn SGDRegressor", t, est.score(Xte, yte))
    if hasattr(skce, "LinearRegressor"):
        est, t = timed_fit(lambda: skce.LinearRegressor(random_state=0, n_jobs=T), Xtr, ytr,
                           repeat)
        table.add(task, "skce LinearRegressor() fit", t, est.score(Xte, yte),
                  note=f"{est.n_iter_} epochs")
        table.set_ref(task, "skce LinearRegressor() fit")
    else:
        note("this skce has no LinearRegressor (branch svm-regressor): its row is skipped")


# ---------------------------------------------------------------------------
# epoch cost and memory
# ---------------------------------------------------------------------------

def epoch_time(X, y, epochs, T, average=True, batch_size=None, fits=1):
    """Median seconds of one SoftmaxClassifier epoch (constant rate, no stopping),
    from the gaps between epoch callbacks, over `fits` fits.  With average
    (the default) an epoch includes the pass that evaluates the averaged
    model."""
    from skce import SoftmaxClassifier

    est = SoftmaxClassifier(solver="adam", learning_rate="constant", tol=None,
                            max_iter=epochs, random_state=0, n_jobs=T)
    if batch_size is not None:
        est.set_params(batch_size=batch_size)
    if "average" in est.get_params():
        est.set_params(average=average)
    if not _accepts_callback(est):  # an older skce: the mean over the fit
        t0 = time.perf_counter()
        est.fit(X, y)
        return (time.perf_counter() - t0) / epochs
    gaps = []
    for _ in range(fits):
        stamps = []
        est.fit(X, y, callback=lambda *a: stamps.append(time.perf_counter()))
        gaps.extend(np.diff(stamps))
    return float(np.median(gaps))


def epoch_costs(table, synthetic, a9a, sizes, repeat, T):
    task = "epoch cost"
    if synthetic is not None:
        Xtr, _, ytr, _ = synthetic
        C = len(np.unique(ytr))
        t_epoch = epoch_time(Xtr, ytr, sizes["epoch_epochs"], T, average=False, fits=repeat)
        t_epoch_avg = epoch_time(Xtr, ytr, sizes["epoch_epochs"], T, average=True, fits=repeat)
        rng = np.random.default_rng(0)
        W = rng.standard_normal((Xtr.shape[1], C))
        G = rng.standard_normal((Xtr.shape[0], C))
        from threadpoolctl import threadpool_limits
        t_blas = median_time(lambda: (Xtr @ W, G.T @ Xtr), max(repeat, 3))
        with threadpool_limits(limits=1, user_api="blas"):
            t_blas1 = median_time(lambda: (Xtr @ W, G.T @ Xtr), max(repeat, 3))
        who = f"skce epoch, synthetic dense {Xtr.shape[0]}x{Xtr.shape[1]}"
        table.add(task, who, t_epoch, note="median epoch, float64, average=False")
        table.add(task, who + " + evaluation pass", t_epoch_avg,
                  note="the default average=True: + the averaged model's objective")
        table.add(task, f"numpy X @ W + G.T @ X ({T} BLAS {_thr(T).split()[1]})", t_blas,
                  note=f"same X; W {Xtr.shape[1]}x{C}, G {Xtr.shape[0]}x{C}")
        table.add(task, "numpy X @ W + G.T @ X (1 BLAS thread)", t_blas1)
        t_blas = min(t_blas, t_blas1)
        table.set_ref(task, who)
        # thread scaling where a batch has work enough for T threads
        speed_up = {}
        for big in sizes["large_batches"]:
            # 1 and T threads alternate, so that a slow spell of the machine
            # hits both
            runs = {n: [] for n in sorted({1, T})}
            for _ in range(repeat):
                for n in runs:
                    runs[n].append(epoch_time(Xtr, ytr, sizes["epoch_epochs"], n,
                                              average=False, batch_size=big))
            t_big = {n: float(np.median(v)) for n, v in runs.items()}
            for n, t in t_big.items():
                table.add(task, f"skce epoch, synthetic dense, batch_size={big}, {_thr(n)}", t,
                          note="average=False")
            speed_up[big] = t_big[1] / t_big[T]
    if a9a is None:
        note("a9a not found: the CSR vs dense epoch is skipped")
    else:
        Xtr, _, ytr, _ = a9a
        for average in (False, True):
            t_csr = epoch_time(Xtr, ytr, sizes["epoch_epochs"], T, average=average, fits=repeat)
            t_dense = epoch_time(Xtr.toarray(), ytr, sizes["epoch_epochs"], T, average=average,
                                 fits=repeat)
            how = "" if average else ", average=False"
            table.add(task, f"skce epoch, a9a CSR {Xtr.shape[0]}x{Xtr.shape[1]}{how}", t_csr,
                      note=f"density {Xtr.nnz / np.prod(Xtr.shape):.3f}")
            table.add(task, f"skce epoch, a9a dense{how}", t_dense)
            table.add("ratios", f"a9a epoch CSR / dense time{how}", ratio=t_csr / t_dense)
    if synthetic is not None:
        table.add("ratios", "skce epoch / (X @ W + G.T @ X)", ratio=t_epoch / t_blas,
                  note="dense synthetic train set; the faster numpy row")
        table.add("ratios", "skce epoch + evaluation pass / (X @ W + G.T @ X)",
                  ratio=t_epoch_avg / t_blas, note="average=True (default)")
        for big, r in speed_up.items():
            table.add("ratios", f"skce epoch speed-up 1 -> {T} threads, batch_size={big}",
                      ratio=r, note="dense synthetic")


# Linux: the peak RSS (VmHWM) is reset to the current RSS by writing 5 to
# /proc/self/clear_refs, so "peak during fit - RSS before fit" is the memory fit
# adds; elsewhere ru_maxrss growth (a lower bound: 0 when fit stays below an
# earlier peak).
_PEAK_SCRIPT = r"""
import resource, sys, tracemalloc
import numpy as np
from skce import SoftmaxClassifier

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

n, d, C, T = map(int, sys.argv[1:5])
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d), dtype=np.float32)
y = rng.integers(0, C, n)
SoftmaxClassifier(max_iter=1, n_jobs=T).fit(X[:500], y[:500])  # load everything first
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    method = "VmHWM after reset"
    before = status("VmRSS")
except OSError:
    method = "ru_maxrss"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
SoftmaxClassifier(max_iter=2, tol=None, random_state=0, n_jobs=T).fit(X, y)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
if method == "ru_maxrss":
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
else:
    after = status("VmHWM")
print(method.replace(" ", "_"), X.nbytes, max(after - before, 0), traced)
"""


def peak_memory(table, sizes, T):
    n, d, C = sizes["peak_rows"], 100, 10
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(n), str(d), str(C), str(T)],
                         capture_output=True, text=True,
                         cwd=tempfile.gettempdir())  # not the source tree's skce/
    if out.returncode != 0:
        note(f"peak-memory subprocess failed: {out.stderr.strip()[-300:]}")
        return
    method, *numbers = out.stdout.split()[-4:]
    nbytes, rss, traced = map(int, numbers)
    method = method.replace("_", " ")
    task = f"fit memory, float32 X {n}x{d}, {C} cl"
    table.add(task, "size of X (MB)", note=f"{nbytes / 2**20:.1f} MB")
    table.add(task, "peak RSS growth during fit (MB)", ratio=rss / nbytes,
              note=f"{rss / 2**20:.1f} MB; ratio = / size of X; {method}, subprocess")
    table.add(task, "tracemalloc peak during fit (MB)", ratio=traced / nbytes,
              note=f"{traced / 2**20:.1f} MB; ratio = / size of X; numpy + Python "
                   "allocations only")


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------

def plot(curves, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        note("matplotlib not installed: no plot")
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4.5), squeeze=False)
    for ax, (name, curve) in zip(axes[0], curves.items()):
        for who, points in curve.items():
            if not points:
                continue
            pts = sorted(points)
            t, acc = zip(*pts)
            per_epoch = who.startswith(("skce", "torch"))
            ax.plot(t, acc, marker="." if per_epoch else "o", label=who,
                    linestyle="-" if per_epoch else ":")
        ax.set_xscale("log")
        ax.set_xlabel("training wall time (s)")
        ax.set_ylabel("test accuracy")
        ax.set_title(name)
        lo = max(min(a for pts in curve.values() for _, a in pts),
                 max(a for pts in curve.values() for _, a in pts) - 0.1)
        ax.set_ylim(lo, None)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("skce per epoch (callback), scikit-learn per fit (several max_iter)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 1 repeat (a smoke run)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="repeats per timing (median); default 5, 1 with --quick")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--plot", default=str(RESULTS / "accuracy_vs_time.png"))
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat or (1 if args.quick else 5)
    T = args.threads

    from threadpoolctl import threadpool_limits

    from skce import show_config

    try:
        import torch
        torch.set_num_threads(T)
    except ImportError:
        torch = None
    show_config()
    print(f"\n{'quick' if args.quick else 'full'} sizes, {T} threads, median of {repeat}; "
          f"data from {DATA}\n", flush=True)
    table = Table()
    curves = {}
    with threadpool_limits(limits=T), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernels(table, sizes, repeat, T, torch)
        synthetic = None
        for name in ("letter", "a9a", "synthetic"):
            data = load(name, sizes)
            if data is None:
                note(f"{name} not found in {DATA}: skipped")
                continue
            if name == "synthetic":
                synthetic = data
            classifiers(table, name, data, sizes, repeat, T, torch, curves)
        regressors(table, load("regression", sizes), repeat, T)
        a9a = load("a9a", sizes)
        epoch_costs(table, synthetic, a9a, sizes, repeat, T)
        peak_memory(table, sizes, T)
    print()
    table.print()
    if not args.no_plot and curves:
        path = plot(curves, Path(args.plot))
        if path:
            print(f"\nwrote {path}")
    return table


if __name__ == "__main__":
    main()
