"""`python -m skce` (console script `skce`): the build, then a real fit.

Trains SoftmaxClassifier (Adam and SGD) on scikit-learn's bundled digits
(1797 8x8 images, 10 classes; standardized, stratified 75/25 split) and
prints test accuracy, test log loss and fit time beside scikit-learn's
LogisticRegression (lbfgs) and SGDClassifier(loss="log_loss", one-vs-rest).
"""
import sys
import time
import warnings

import numpy as np


def _fit_and_score(name, make, Xtr, ytr, Xte, yte, repeat=5):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    times = []
    for _ in range(repeat):
        est = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            est.fit(Xtr, ytr)
            times.append(time.perf_counter() - t0)
    proba = est.predict_proba(Xte)
    return (name, est.score(Xte, yte), log_loss(yte, proba, labels=est.classes_),
            float(np.median(times)), getattr(est, "n_iter_", None))


def demo(file=None, repeat=5):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from skce import SoftmaxClassifier

    file = sys.stdout if file is None else file
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    n = len(Xtr)
    alpha = 1e-4
    rows = [
        _fit_and_score("skce SoftmaxClassifier(solver='adam')",
                       lambda: SoftmaxClassifier(alpha=alpha, random_state=0), Xtr, ytr, Xte, yte,
                       repeat),
        _fit_and_score("skce SoftmaxClassifier(solver='sgd')",
                       lambda: SoftmaxClassifier(solver="sgd", alpha=alpha, random_state=0),
                       Xtr, ytr, Xte, yte, repeat),
        _fit_and_score("sklearn LogisticRegression(lbfgs)",
                       lambda: LogisticRegression(C=1.0 / (alpha * n), max_iter=1000),
                       Xtr, ytr, Xte, yte, repeat),
        _fit_and_score("sklearn SGDClassifier(log_loss, OvR)",
                       lambda: SGDClassifier(loss="log_loss", alpha=alpha, random_state=0),
                       Xtr, ytr, Xte, yte, repeat),
    ]
    print(f"\ndigits: {len(Xtr)} train / {len(Xte)} test rows, {X.shape[1]} features, "
          f"10 classes; alpha={alpha} (LogisticRegression C=1/(alpha*n)); "
          f"fit time = median of {repeat}", file=file)
    header = f"{'model':40s} {'accuracy':>9s} {'log loss':>9s} {'fit ms':>8s} {'epochs':>7s}"
    print(header, file=file)
    print("-" * len(header), file=file)
    for name, acc, ll, t, it in rows:
        print(f"{name:40s} {acc:9.4f} {ll:9.4f} {t * 1e3:8.1f} {str(it):>7s}", file=file)


def main(argv=None):
    from skce import show_config

    show_config()
    demo()


if __name__ == "__main__":
    main()
