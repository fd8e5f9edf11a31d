"""Sizes, data sets and estimator factories shared by the asv benchmarks.

Profiles (environment variable ``SKCE_BENCH_PROFILE``):
  full (default)  kernels on 1,000,000 rows; the synthetic classification
                  set is make_classification(300_000, 100 features, 10
                  classes) and the regression set make_regression(300_000, 100)
  fast            CI-sized: kernels on 100,000 rows, synthetic and regression
                  sets of 20,000 rows, letter and a9a subsampled to 5,000
                  training rows

Real data sets are read from ``../shared/data`` beside the repository root
(override with ``SKCE_BENCH_DATA``); a missing file skips its benchmarks.
"""
import gzip
import os
import time
from pathlib import Path

import numpy as np

PROFILE = os.environ.get("SKCE_BENCH_PROFILE", "full").lower()
if PROFILE not in ("full", "fast"):
    raise ValueError(f"SKCE_BENCH_PROFILE={PROFILE!r}: use 'full' or 'fast'")
FAST = PROFILE == "fast"

# benchmarks/benchmarks/common.py -> parents[2] is the repository root
DATA = Path(os.environ.get("SKCE_BENCH_DATA")
            or Path(__file__).resolve().parents[2].parent / "shared" / "data")

KERNEL_ROWS = 100_000 if FAST else 1_000_000
KERNEL_CLASSES = 10
NTXENT_ROWS = 256 if FAST else 2048
NTXENT_DIM = 128
SYNTHETIC_ROWS = 20_000 if FAST else 300_000
REGRESSION_ROWS = 20_000 if FAST else 300_000
REAL_TRAIN_CAP = 5_000 if FAST else None

CLASSIFICATION_DATASETS = ["digits", "letter", "a9a", "synthetic"]
REGRESSION_DATASETS = ["regression"]
SOLVERS = ["sgd", "adam"]


def _standardize_split(X, y, stratify=True, random_state=0):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=random_state,
                                          stratify=y if stratify else None)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


def _cap(data):
    """In the fast profile, keep at most REAL_TRAIN_CAP train (and test) rows."""
    if REAL_TRAIN_CAP is None:
        return data
    Xtr, Xte, ytr, yte = data
    return Xtr[:REAL_TRAIN_CAP], Xte[:REAL_TRAIN_CAP], ytr[:REAL_TRAIN_CAP], yte[:REAL_TRAIN_CAP]


def read_letter():
    """The whole letter set (X (20000, 16) in [-1, 1], y 1..26), or None when absent."""
    path = DATA / "letter.scale.gz"
    if not path.exists():
        return None
    with gzip.open(path) as f:
        data = np.loadtxt(f)
    return data[:, 1:], data[:, 0].astype(int)


def load_dataset(name):
    """(X_train, X_test, y_train, y_test) as float64, or None when the file is absent.

    digits, letter, synthetic: dense, standardized, stratified 80/20 split.
    a9a: CSR as loaded by load_svmlight_file, its own train/test files.
    regression: make_regression, standardized X, y / std(y_train), 80/20 split.
    """
    if name == "digits":
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        return _standardize_split(X, y)
    if name == "letter":
        data = read_letter()
        return None if data is None else _cap(_standardize_split(*data))
    if name == "a9a":
        from sklearn.datasets import load_svmlight_file
        paths = DATA / "a9a.gz", DATA / "a9a.t.gz"
        if not all(p.exists() for p in paths):
            return None
        with gzip.open(paths[0]) as f:
            Xtr, ytr = load_svmlight_file(f, n_features=123)
        with gzip.open(paths[1]) as f:
            Xte, yte = load_svmlight_file(f, n_features=123)
        return _cap((Xtr.tocsr(), Xte.tocsr(), ytr.astype(int), yte.astype(int)))
    if name == "synthetic":
        from sklearn.datasets import make_classification
        X, y = make_classification(n_samples=SYNTHETIC_ROWS, n_features=100, n_informative=60,
                                   n_classes=10, random_state=0)
        return _standardize_split(X, y)
    if name == "regression":
        from sklearn.datasets import make_regression
        X, y = make_regression(n_samples=REGRESSION_ROWS, n_features=100, n_informative=60,
                               noise=10.0, random_state=0)
        Xtr, Xte, ytr, yte = _standardize_split(X, y, stratify=False)
        scale = ytr.std()  # y in units of its spread, so default step sizes fit (R^2 unchanged)
        return Xtr, Xte, ytr / scale, yte / scale
    raise ValueError(f"unknown data set {name!r}")


def make_estimator(name, solver):
    """A default skce estimator (random_state=0) with the given solver, or
    None when this skce has no such estimator."""
    import skce
    cls = getattr(skce, name, None)
    if cls is None:
        return None
    return cls(solver=solver, random_state=0)


# A multithreaded OpenBLAS call (LogisticRegression's lbfgs) leaves its
# threads spinning for a while after it returns, and a fit started at once
# shares the 2 cores with them (skce's default fit on 240,000 x 100 right
# after LogisticRegression(): 0.31 s instead of 0.245; after 0.2 s of
# pause, or with OPENBLAS_NUM_THREADS=1, 0.24).  Timed fits start after it.
SETTLE_SECONDS = 0.2


def settle():
    """Let other libraries' spinning threads go to sleep before a timing."""
    time.sleep(SETTLE_SECONDS)
