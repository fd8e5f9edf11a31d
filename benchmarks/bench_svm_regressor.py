"""LinearSVM and LinearRegressor against scikit-learn: time to a test score.

    python benchmarks/bench_svm_regressor.py [--datasets a9a,synthetic,regression] [--repeat 3]

  a9a        ../shared/data/a9a.gz / a9a.t.gz (sparse CSR, 0/1 features, as
             LIBSVM ships them): LinearSVM vs LinearSVC (defaults both);
             target = LinearSVC's test accuracy - 0.3 pt.
  synthetic  make_classification(n_samples=300_000, n_features=100,
             n_informative=60, n_classes=10, random_state=0), standardized,
             stratified 80/20 split: LinearSVM vs LinearSVC; target as above.
  regression make_regression(n_samples=500_000, n_features=100,
             random_state=0), 80/20 split: LinearRegressor vs Ridge and
             SGDRegressor; target = Ridge's test R^2 - 0.001.
skce's "time to target" is the training time (scoring excluded) of a
default fit until the test score first reaches the target (an epoch
callback scores it); the references are median fit times.
"""
import argparse
import gzip
import warnings

import numpy as np
import scipy.sparse as sp

from bench_softmax import DATA, load as load_classification, time_to_target, timed_fit


def load(name):
    from sklearn.datasets import load_svmlight_file, make_regression
    from sklearn.model_selection import train_test_split

    if name == "a9a":
        if not (DATA / "a9a.gz").exists():
            return None
        Xtr, ytr = load_svmlight_file(gzip.open(DATA / "a9a.gz"), n_features=123)
        Xte, yte = load_svmlight_file(gzip.open(DATA / "a9a.t.gz"), n_features=123)
        # liblinear (LinearSVC) takes 32-bit sparse indices only
        Xtr, Xte = (sp.csr_matrix((X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)),
                                  shape=X.shape) for X in (Xtr.tocsr(), Xte.tocsr()))
        return Xtr, Xte, ytr, yte
    if name == "regression":
        X, y = make_regression(n_samples=500_000, n_features=100, random_state=0)
        return train_test_split(X, y, test_size=0.2, random_state=0)
    return load_classification(name)


def r2_of(Xte, yte):
    denom = float(np.sum((yte - yte.mean()) ** 2))

    def score(coef, intercept):
        pred = Xte @ coef.ravel() + float(np.ravel(intercept)[0])
        return 1.0 - float(np.sum((yte - pred) ** 2)) / denom
    return score


def table(rows, t_ref_names):
    header = f"{'model':36s} {'time s':>8s} {'score':>8s} " + " ".join(
        f"{n + '/this':>12s}" for n, _ in t_ref_names)
    print(header)
    print("-" * len(header))
    for label, t, sc, note in rows:
        ts = f"{t:8.3f}" if t is not None else "  missed"
        scs = f"{sc:8.4f}" if sc is not None else " " * 8
        ratios = " ".join(f"{tr / t:12.2f}" if t else " " * 12 for _, tr in t_ref_names)
        print(f"{label:36s} {ts} {scs} {ratios}  {note}")


def run_classification(name, repeat, max_epochs):
    from sklearn.svm import LinearSVC

    from skce import LinearSVM

    data = load(name)
    if data is None:
        print(f"\n{name}: data set not found, skipped")
        return
    Xtr, Xte, ytr, yte = data
    print(f"\n{name}: {Xtr.shape[0]} train / {Xte.shape[0]} test rows, {Xtr.shape[1]} features, "
          f"{len(np.unique(ytr))} classes; medians of {repeat}")
    svc, t_svc = timed_fit(LinearSVC, Xtr, ytr, repeat)
    acc_svc = svc.score(Xte, yte)
    target = acc_svc - 0.003
    reps = [time_to_target(lambda: LinearSVM(random_state=r), Xtr, ytr, Xte, yte, target,
                           max_epochs) for r in range(repeat)]
    t_target = float(np.median([r[0] for r in reps])) if all(r[0] for r in reps) else None
    ours, t_ours = timed_fit(lambda: LinearSVM(random_state=0), Xtr, ytr, repeat)
    table([("sklearn LinearSVC()", t_svc, acc_svc, ""),
           ("skce LinearSVM() fit", t_ours, ours.score(Xte, yte), f"{ours.n_iter_} epochs"),
           (f"skce to test acc >= {target:.4f}", t_target, reps[0][2] if t_target else None,
            f"{reps[0][1]} epochs")], [("SVC", t_svc)])


def run_regression(repeat, max_epochs):
    from sklearn.linear_model import Ridge, SGDRegressor

    from skce import LinearRegressor

    Xtr, Xte, ytr, yte = load("regression")
    print(f"\nregression: {Xtr.shape[0]} train / {Xte.shape[0]} test rows, {Xtr.shape[1]} "
          f"features; medians of {repeat}")
    ridge, t_ridge = timed_fit(Ridge, Xtr, ytr, repeat)
    r2_ridge = ridge.score(Xte, yte)
    sgd, t_sgd = timed_fit(lambda: SGDRegressor(random_state=0), Xtr, ytr, repeat)
    target = r2_ridge - 0.001
    reps = [time_to_target(lambda: LinearRegressor(random_state=r), Xtr, ytr, Xte, yte, target,
                           max_epochs, score=r2_of(Xte, yte)) for r in range(repeat)]
    t_target = float(np.median([r[0] for r in reps])) if all(r[0] for r in reps) else None
    ours, t_ours = timed_fit(lambda: LinearRegressor(random_state=0), Xtr, ytr, repeat)
    table([("sklearn Ridge()", t_ridge, r2_ridge, ""),
           ("sklearn SGDRegressor()", t_sgd, sgd.score(Xte, yte), ""),
           ("skce LinearRegressor() fit", t_ours, ours.score(Xte, yte), f"{ours.n_iter_} epochs"),
           (f"skce to test R2 >= {target:.4f}", t_target, reps[0][2] if t_target else None,
            f"{reps[0][1]} epochs")], [("Ridge", t_ridge), ("SGD", t_sgd)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="a9a,synthetic,regression")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=200)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in args.datasets.split(","):
            if name == "regression":
                run_regression(args.repeat, args.max_epochs)
            else:
                run_classification(name, args.repeat, args.max_epochs)


if __name__ == "__main__":
    main()
