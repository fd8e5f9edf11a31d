"""The demo of `skce` without arguments, and the built-in `skce bench`.

SoftmaxClassifier beside scikit-learn's LogisticRegression (lbfgs, the exact
multinomial optimum) and SGDClassifier(loss="log_loss", one-vs-rest) on the
bundled UCI letter data (20,000 x 16, 26 classes; the UCI split: first
16,000 rows train, last 4,000 test; standardized).
"""
import sys
import time
import warnings

import numpy as np

from skce.cli._report import format_table

def models(n_train):
    """(name, factory) rows of the comparison; the first is the reference of the ratios.
    The defaults of SoftmaxClassifier (alpha = 1/n) and LogisticRegression
    (C = 1) have the same objective; SGDClassifier gets that alpha too."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from skce import SoftmaxClassifier

    # (the default solver="auto" runs lbfgs here: 26 classes)
    return [
        ("skce SoftmaxClassifier()", lambda: SoftmaxClassifier(random_state=0)),
        ('skce SoftmaxClassifier(solver="svrg")',
         lambda: SoftmaxClassifier(solver="svrg", random_state=0)),
        ('skce SoftmaxClassifier(solver="adam")',
         lambda: SoftmaxClassifier(solver="adam", random_state=0)),
        ("sklearn LogisticRegression(lbfgs)", lambda: LogisticRegression(max_iter=1000)),
        ("sklearn SGDClassifier(log_loss, OvR)",
         lambda: SGDClassifier(loss="log_loss", alpha=1.0 / n_train, random_state=0)),
    ]


def _iterations(est):
    # LogisticRegression's n_iter_ is an array (one entry per fitted problem)
    n_iter = getattr(est, "n_iter_", None)
    return None if n_iter is None else int(np.max(n_iter))


def fit_and_score(make, Xtr, ytr, Xte, yte, repeat):
    """Median fit time of ``repeat`` fits, and the last fit's test accuracy,
    test log loss and iterations (n_iter_)."""
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
    return (est.score(Xte, yte), log_loss(yte, proba, labels=est.classes_),
            float(np.median(times)), _iterations(est))


def letter_split():
    """Standardized (Xtr, Xte, ytr, yte) of the bundled letter data, UCI's split."""
    from sklearn.preprocessing import StandardScaler

    from skce.datasets import load_letter

    X, y = load_letter(return_X_y=True)
    scaler = StandardScaler().fit(X[:16000])
    return scaler.transform(X[:16000]), scaler.transform(X[16000:]), y[:16000], y[16000:]


def compare(repeat=3, file=None):
    """Print the comparison table on the bundled letter data.

    Parameters
    ----------
    repeat : int
        Fits per model; the time is their median.
    file : file, default sys.stdout
    """
    file = sys.stdout if file is None else file
    Xtr, Xte, ytr, yte = letter_split()
    print(f"\nUCI letter (bundled): {len(Xtr)} train / {len(Xte)} test rows, {Xtr.shape[1]} "
          f"features, 26 classes, standardized; every model at its defaults: the "
          f"objective of LogisticRegression(C=1), i.e. alpha=1/n={1 / len(Xtr):.3g}; fit "
          f"time = median of {repeat}; iterations = n_iter_ "
          f"(epochs for the SGD models)", file=file, flush=True)
    rows, reference = [], None
    for name, make in models(len(Xtr)):
        acc, ll, t, it = fit_and_score(make, Xtr, ytr, Xte, yte, repeat)
        reference = t if reference is None else reference
        rows.append([name, acc, ll, f"{t:.3f}", f"{t / reference:.2f}x", it])
    print(format_table(["model", "accuracy", "log loss", "fit s", "time / skce", "iterations"],
                       rows), file=file, flush=True)
    return rows
