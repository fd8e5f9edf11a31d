"""What runs on the workers: a persisted block of rows and its share of the
objective.

A `Block` holds one row block of X (dense or CSR, of the model's dtype), its
encoded targets (the `LossSpec` the plain estimator builds from them) and its
combined sample weights.  Each round the client broadcasts the parameters;
every block returns the *sums* over its rows of the weighted loss and of its
gradient, and the client adds them up (a tree-sum) and takes one L-BFGS step.
The sums come from the same compiled loss kernels as the in-memory fit.
"""
import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier

from skce._config import effective_n_threads

from skce._solver._objective import LinearObjective, target_sums


@dataclass
class Block:
    X: object            # ndarray (n_b, d) or CSR
    loss: object         # skce._solver.LossSpec of the block's rows
    sample_weight: object   # float64 (n_b,) or None
    objective: object    # LinearObjective of the rows (None for a block of no weight)

    @property
    def n_rows(self):
        return self.X.shape[0]


def _as_model_dtype(X, dtype):
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=dtype)
    # distributed's transport can hand a worker a block whose buffer starts at
    # an address that is not a multiple of its item size (seen for blocks of
    # ~30 MB and more).  The kernels read aligned items, so such a block is
    # copied once here, where it is persisted, instead of warning about a copy
    # the user cannot avoid.
    return np.require(X, dtype=dtype, requirements="A")


def make_block(template, X, y, sample_weight, class_weight, dtype, n_threads):
    """Encode one block's targets with the plain estimator `template` (fitted
    only with classes_ / output shape): the same encoding as an in-memory fit.

    class_weight: the per-class weights of the whole data set (balanced
    weights need global counts), or None."""
    X = _as_model_dtype(X, dtype)
    y = np.asarray(y)
    if is_classifier(template):
        y_idx = template._encode(y.ravel())
        loss = template._loss_spec(y_idx, dtype)
    else:
        y_idx = None
        loss = template._loss_spec(template._targets(X, y))
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if class_weight is not None:
        cw = class_weight[y_idx]
        sw = cw if sw is None else sw * cw
    total = X.shape[0] if sw is None else float(np.sum(sw))
    objective = LinearObjective(X, loss, sample_weight=sw, n_threads=n_threads_here(n_threads)) \
        if total > 0 else None
    return Block(X, loss, sw, objective)


def n_threads_here(n_jobs):
    """Kernel threads on this worker: dask sets OMP_NUM_THREADS=1 in workers, so
    n_jobs=None gives 1 thread there; an explicit n_jobs overrides it."""
    return effective_n_threads(n_jobs)


def block_stats(block):
    """The block's (weight sum, weighted target sums): for the intercept's start."""
    return target_sums(block.loss, block.sample_weight)


def column_moments(block):
    """(sum_i s_i x_ij, sum_i s_i x_ij^2) of the block's rows, per feature
    (`LinearObjective.column_moments`: for L-BFGS's centering and
    preconditioning): they add up over blocks."""
    if block.objective is None:
        return np.zeros(block.X.shape[1]), np.zeros(block.X.shape[1])
    return block.objective.column_moments()


def loss_spec_meta(block):
    """The block's LossSpec without its targets (kind, outputs, options)."""
    return dataclasses.replace(block.loss, y=None, Y=None)


def class_counts(y, classes):
    """Counts of each label of `classes` in a block of labels (for balanced weights)."""
    idx = np.searchsorted(classes, np.asarray(y).ravel())
    return np.bincount(idx, minlength=len(classes)).astype(np.float64)


def unique_labels(y):
    return np.unique(np.asarray(y).ravel())


def loss_gradient(block, theta):
    """(sum of weighted row losses, its gradient with respect to theta) of a block."""
    if block.objective is None:   # no rows, or no weight
        return 0.0, np.zeros(np.shape(theta), dtype=np.float64)
    return block.objective.loss_gradient_sum(theta)


def add_all(*parts):
    """The sum of (loss, gradient) pairs: one node of the tree-sum."""
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def noop(block, theta=None):
    """A task of the same shape as a round, doing nothing: the scheduler's own latency."""
    return 0.0, np.zeros(1)
