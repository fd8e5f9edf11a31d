"""SoftmaxClassifier against scikit-learn: time to reach a test accuracy.

    python benchmarks/bench_softmax.py [--datasets letter,synthetic] [--repeat 3]

For each data set (standardized; stratified 80/20 split, random_state=0):
  * LogisticRegression(max_iter=1000) (lbfgs) and SGDClassifier(loss="log_loss")
    are fitted; their fit times (median of --repeat) and test accuracies are
    the references;
  * the default SoftmaxClassifier is fitted; an epoch callback scores the
    test set after every epoch, and its "time to target" is the training
    time (scoring excluded) until the test accuracy first reaches the target
    (LogisticRegression's accuracy minus 0.5 pt on letter, 0.3 pt on the
    synthetic set); also the plain default fit() (time, accuracy, epochs).
Ratios are printed against skce's time to target.

letter: ../shared/data/letter.scale.gz (UCI letter, 20000 x 16, 26 classes),
skipped when absent.  synthetic: make_classification(n_samples=300_000,
n_features=100, n_informative=60, n_classes=10, random_state=0).
"""
import argparse
import gzip
import os
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.common import settle

# ../shared/data beside the repository root, or $SKCE_BENCH_DATA (as the asv suite,
# benchmarks/benchmarks/common.py); compare.py and bench_svm_regressor.py use this one
DATA = Path(os.environ.get("SKCE_BENCH_DATA")
            or Path(__file__).resolve().parents[1].parent / "shared" / "data")
TARGET_GAP = {"letter": 0.005, "synthetic": 0.003}


def load(name):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "letter":
        path = DATA / "letter.scale.gz"
        if not path.exists():
            return None
        data = np.loadtxt(gzip.open(path))
        X, y = data[:, 1:], data[:, 0].astype(int)
    elif name == "synthetic":
        X, y = make_classification(n_samples=300_000, n_features=100, n_informative=60,
                                   n_classes=10, random_state=0)
    else:
        raise ValueError(f"unknown data set {name!r}")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def timed_fit(make, X, y, repeat):
    times = []
    for _ in range(repeat):
        est = make()
        settle()
        t0 = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - t0)
    return est, float(np.median(times))


def accuracy_of(classes, Xte, yte):
    """Test accuracy of a linear classifier given as (coef, intercept)."""
    def score(coef, intercept):
        z = Xte @ coef.T + intercept
        pred = classes[(z[:, 0] > 0).astype(int)] if z.shape[1] == 1 else classes[z.argmax(1)]
        return float(np.mean(pred == yte))
    return score


def time_to_target(make, Xtr, ytr, Xte, yte, target, max_epochs, score=None):
    """(training seconds until the test score >= target or None, epochs, score).

    score(coef, intercept) defaults to the test accuracy of a classifier.
    """
    est = make().set_params(max_iter=max_epochs)
    score = score or accuracy_of(np.unique(ytr), Xte, yte)
    t_start = time.perf_counter()
    scoring = [0.0]
    hit = {}

    def on_epoch(epoch, coef, intercept, objective):
        t0 = time.perf_counter()
        acc = score(coef, intercept)
        scoring[0] += time.perf_counter() - t0
        hit.update(epoch=epoch, acc=acc)
        if acc >= target:
            hit["time"] = t0 - t_start - (scoring[0] - (time.perf_counter() - t0))
            return True
        return False
    est.fit(Xtr, ytr, callback=on_epoch)
    return hit.get("time"), hit.get("epoch"), hit.get("acc")


def run(name, repeat, max_epochs):
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from skce import SoftmaxClassifier

    data = load(name)
    if data is None:
        print(f"\n{name}: data set not found, skipped")
        return
    Xtr, Xte, ytr, yte = data
    print(f"\n{name}: {Xtr.shape[0]} train / {Xte.shape[0]} test rows, {Xtr.shape[1]} "
          f"features, {len(np.unique(ytr))} classes; medians of {repeat}")
    lr, t_lr = timed_fit(lambda: LogisticRegression(max_iter=1000), Xtr, ytr, repeat)
    acc_lr = lr.score(Xte, yte)
    sgd, t_sgd = timed_fit(lambda: SGDClassifier(loss="log_loss", random_state=0), Xtr, ytr,
                           repeat)
    acc_sgd = sgd.score(Xte, yte)
    target = acc_lr - TARGET_GAP[name]
    reps = [time_to_target(lambda: SoftmaxClassifier(random_state=r), Xtr, ytr, Xte, yte,
                           target, max_epochs) for r in range(repeat)]
    hit = [r for r in reps if r[0] is not None]
    t_target = float(np.median([r[0] for r in hit])) if len(hit) == len(reps) else None
    epochs = int(np.median([r[1] for r in reps]))
    default, t_default = timed_fit(lambda: SoftmaxClassifier(random_state=0), Xtr, ytr, repeat)
    acc_default = default.score(Xte, yte)

    rows = [
        ("sklearn LogisticRegression(lbfgs)", t_lr, acc_lr, ""),
        ("sklearn SGDClassifier(log_loss)", t_sgd, acc_sgd, ""),
        ("skce SoftmaxClassifier() fit", t_default, acc_default, f"{default.n_iter_} epochs"),
        (f"skce to test acc >= {target:.4f}", t_target, reps[0][2] if t_target else None,
         f"{epochs} epochs"),
    ]
    header = f"{'model':36s} {'time s':>8s} {'test acc':>9s} {'LR/this':>8s} {'SGD/this':>9s}"
    print(header)
    print("-" * len(header))
    for label, t, acc, note in rows:
        ts = f"{t:8.3f}" if t is not None else "  missed"
        accs = f"{acc:9.4f}" if acc is not None else " " * 9
        r1 = f"{t_lr / t:8.2f}" if t else " " * 8
        r2 = f"{t_sgd / t:9.2f}" if t else " " * 9
        print(f"{label:36s} {ts} {accs} {r1} {r2}  {note}")
    if t_target is None:
        print(f"skce did not reach {target:.4f} within {max_epochs} epochs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="letter,synthetic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=200)
    args = parser.parse_args(argv)
    from skce import show_config
    show_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in args.datasets.split(","):
            run(name, args.repeat, args.max_epochs)


if __name__ == "__main__":
    main()
