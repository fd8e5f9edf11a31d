"""skce on dask.distributed: data-parallel L-BFGS fits of the linear models.

``skce.dask.SoftmaxClassifier``, ``LinearSVM`` and ``LinearRegressor`` take
the plain estimators' parameters and fit on dask arrays or DataFrames (or
in-memory data, scattered to the workers) with the blocks kept on the
workers; prediction on a dask array is lazy, per block.  Needs the extra
``pip install "skce[dask]"`` and a running ``distributed.Client``.
"""
from skce.dask._estimators import LinearRegressor, LinearSVM, SoftmaxClassifier

__all__ = ["SoftmaxClassifier", "LinearSVM", "LinearRegressor"]
