"""fit time, peak memory (float32 X) and train/test score of every skce
estimator x solver on digits, letter, a9a (CSR), the synthetic 10-class set
and (regressor) a make_regression set.

Each class loads its data sets and fits every (data set, solver) once in
``setup_cache`` (the scores tracked by ``track_*``); ``time_fit`` and
``peakmem_fit`` fit again.  A data set whose file is absent, or an estimator
this skce does not have (LinearSVM, LinearRegressor come with the
svm-regressor branch), is skipped (NotImplementedError in setup).
"""
import warnings

import numpy as np
import sklearn.datasets  # noqa: F401  (imported once, before any timing)

import skce  # noqa: F401

from .common import (CLASSIFICATION_DATASETS, REGRESSION_DATASETS, SOLVERS, load_dataset,
                     make_estimator)


def _fit_all(estimator, datasets):
    """{"data": {name: split}, "scores": {(name, solver): (train, test)}}."""
    out = {"data": {}, "scores": {}}
    for name in datasets:
        data = load_dataset(name)
        if data is None:
            continue
        out["data"][name] = data
        Xtr, Xte, ytr, yte = data
        for solver in SOLVERS:
            est = make_estimator(estimator, solver)
            if est is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(Xtr, ytr)
            out["scores"][(name, solver)] = (float(est.score(Xtr, ytr)),
                                             float(est.score(Xte, yte)))
    return out


class _EstimatorBench:
    estimator = None
    param_names = ["dataset", "solver"]
    timeout = 1800

    def setup(self, cache, dataset, solver):
        if dataset not in cache["data"]:
            raise NotImplementedError(f"data set {dataset} not found")
        if make_estimator(self.estimator, solver) is None:
            raise NotImplementedError(f"this skce has no {self.estimator}")
        self.X, _, self.y, _ = cache["data"][dataset]
        self.X32 = self.X.astype(np.float32)

    def _fit(self, X, solver):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make_estimator(self.estimator, solver).fit(X, self.y)

    def time_fit(self, cache, dataset, solver):
        self._fit(self.X, solver)

    def peakmem_fit(self, cache, dataset, solver):
        self._fit(self.X32, solver)

    def track_train_score(self, cache, dataset, solver):
        return cache["scores"][(dataset, solver)][0]

    def track_test_score(self, cache, dataset, solver):
        return cache["scores"][(dataset, solver)][1]

    # accuracy for the classifiers, R^2 for the regressor
    track_train_score.unit = track_test_score.unit = "score"


class SoftmaxClassifierSuite(_EstimatorBench):
    estimator = "SoftmaxClassifier"
    params = [CLASSIFICATION_DATASETS, SOLVERS]

    def setup_cache(self):
        return _fit_all(self.estimator, CLASSIFICATION_DATASETS)

    setup_cache.timeout = 3600


class LinearSVMSuite(_EstimatorBench):
    estimator = "LinearSVM"
    params = [CLASSIFICATION_DATASETS, SOLVERS]

    def setup_cache(self):
        return _fit_all(self.estimator, CLASSIFICATION_DATASETS)

    setup_cache.timeout = 3600


class LinearRegressorSuite(_EstimatorBench):
    estimator = "LinearRegressor"
    params = [REGRESSION_DATASETS, SOLVERS]

    def setup_cache(self):
        return _fit_all(self.estimator, REGRESSION_DATASETS)

    setup_cache.timeout = 3600
