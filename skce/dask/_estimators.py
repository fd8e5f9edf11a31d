"""Data-parallel fits of skce's linear models on a dask.distributed cluster.

In the manner of Spark MLlib's RDDLossFunction: the row blocks of X (with
their encoded targets) are computed once and kept on the workers; each round
the client broadcasts the parameters, every block returns the sums of its
weighted loss and gradient from skce's compiled kernels, a tree of `add`
tasks sums them on the workers, and the client takes the L-BFGS step (scipy's
L-BFGS-B with LogisticRegression's options).  Only the parameters travel each
round: (n_features + 1) x n_outputs floats out to every worker and one
gradient back per block.
"""
import inspect
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.utils._param_validation import StrOptions

from skce.linear_model import LinearRegressor as _LocalRegressor
from skce.linear_model import LinearSVM as _LocalSVM
from skce.linear_model import SoftmaxClassifier as _LocalSoftmax
from skce._loss import LOSSES
from skce._solver._lbfgs import (CenteredIntercept, check_lbfgs, diagonal_precondition,
                                 lbfgs_options, minimize_penalized, warn_unless_converged)
from skce._solver._objective import (diagonal_curvature, intercept_only, penalty, regularized,
                                     start_curvature, zero_column_weights)
from skce.dask import _blocks

try:
    import dask
    import dask.array as da
    import dask.dataframe as dd
    from distributed import default_client, wait
except ImportError as exc:   # pragma: no cover - exercised without the extra
    raise ImportError("skce.dask needs dask and distributed: pip install \"skce[dask]\"") from exc

__all__ = ["SoftmaxClassifier", "LinearSVM", "LinearRegressor"]


def _to_dask_array(a, name):
    if a is None or isinstance(a, da.Array):
        return a
    if isinstance(a, (dd.DataFrame, dd.Series)):
        return a.to_dask_array(lengths=True)
    return None   # in memory


# Below these sizes the parameters travel inside each task and the block sums
# are added on the client: each saves a scheduler round trip per round (a
# broadcast, a tree level), ~1 ms each on a quiet machine, while shipping a
# few KB more.  Above them: one broadcast, and a tree-sum on the workers
# (FAN_IN parts per task) so the client receives one gradient.
EMBED_BYTES = 64 * 1024
CLIENT_SUM_BYTES = 1 << 20
FAN_IN = 8


def _sum_round(client, blocks, theta):
    th = theta if theta.nbytes <= EMBED_BYTES else client.scatter(theta, broadcast=True,
                                                                    hash=False)
    parts = client.map(_blocks.loss_gradient, blocks, theta=th, pure=False)
    if len(parts) * theta.nbytes <= CLIENT_SUM_BYTES:
        results = client.gather(parts)
        return sum(r[0] for r in results), sum(r[1] for r in results)
    while len(parts) > 1:
        parts = [client.submit(_blocks.add_all, *parts[i:i + FAN_IN], pure=False)
                 for i in range(0, len(parts), FAN_IN)]
    return parts[0].result()


def _model_dtype(dtype):
    """float32 data trains in float32, anything else in float64."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


class _DaskFitMixin:
    """fit() on dask collections (or in-memory data, scattered), lazy
    prediction on dask arrays, to_local()."""

    _local_class = None

    # -- data -----------------------------------------------------------------
    def _blocks_of(self, client, X, y, sample_weight):
        """Row blocks (X, y, sample_weight) as dask delayed objects or futures."""
        Xd = _to_dask_array(X, "X")
        yd = _to_dask_array(y, "y")
        swd = _to_dask_array(sample_weight, "sample_weight")
        if Xd is None:   # in memory: scatter one block per worker
            X = X if sp.issparse(X) else np.asarray(X)
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
            n = X.shape[0]
            if np.shape(y)[0] != n:
                raise ValueError(f"X has {n} rows but y has {np.shape(y)[0]}")
            n_blocks = max(1, min(len(client.scheduler_info()["workers"]), n))
            self._fit_dtype = _model_dtype(X.dtype)
            bounds = np.linspace(0, n, n_blocks + 1).astype(int)
            parts = []
            for a, b in zip(bounds[:-1], bounds[1:]):
                sw = None if sample_weight is None else np.asarray(sample_weight)[a:b]
                parts.append((X[a:b], np.asarray(y)[a:b], sw))
            return client.scatter(parts, hash=False), False
        if Xd.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {Xd.shape}")
        if yd is None:
            raise TypeError("with a dask X, y must be a dask array or dask Series/DataFrame "
                            "with the same row chunks")
        if any(np.isnan(c) for c in Xd.chunks[0] + yd.chunks[0]):
            raise ValueError("X or y has unknown chunk sizes; compute them first "
                             "(X.compute_chunk_sizes(), or to_dask_array(lengths=True))")
        if yd.shape[0] != Xd.shape[0]:
            raise ValueError(f"X has {Xd.shape[0]} rows but y has {yd.shape[0]}")
        self._fit_dtype = _model_dtype(Xd.dtype)
        Xd = Xd.rechunk({1: -1})   # whole rows per block
        yd = yd.rechunk({0: Xd.chunks[0]} if yd.ndim == 1 else (Xd.chunks[0], -1))
        xs = Xd.to_delayed().ravel()
        ys = yd.to_delayed().ravel()
        if swd is not None:
            sws = swd.rechunk({0: Xd.chunks[0]}).to_delayed().ravel()
        else:
            sws = [None] * len(xs)
        return client.compute([dask.delayed(tuple)([x, yy, s])
                               for x, yy, s in zip(xs, ys, sws)]), True

    # -- fit ------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit on a dask array / dask DataFrame X (rows in blocks), or in-memory
        data scattered to the workers, by data-parallel L-BFGS.

        Parameters
        ----------
        X : dask array or DataFrame (n_samples, n_features), or array / CSR matrix
        y : dask array or Series (n_samples,) or (n_samples, n_targets), aligned with X
        sample_weight : dask array (n_samples,), optional

        Returns
        -------
        self
        """
        # solver: only "lbfgs" (for minibatch training of the blocks one after
        # another, wrap the plain estimator in dask_ml.wrappers.Incremental)
        self._validate_params()
        client = default_client()
        parts, _ = self._blocks_of(client, X, y, sample_weight)
        try:
            return self._fit_parts(client, parts, X)
        finally:
            client.cancel(parts)

    def _fit_parts(self, client, parts, X):
        dtype = self._fit_dtype
        template = self._local_class(**self.get_params())

        # labels / output shape, from the data, before encoding the blocks
        class_weight = None
        if is_classifier(self):
            labels = client.gather(client.map(lambda p: _blocks.unique_labels(p[1]), parts,
                                              pure=False))
            classes = np.unique(np.concatenate(labels))
            if len(classes) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                                 f"y has only {classes.tolist()}")
            template.classes_ = classes
            if self.class_weight == "balanced":
                # scikit-learn's n / (K * count_k), from the blocks' label counts:
                # no n-sized label array on the client
                counts = sum(client.gather(client.map(
                    lambda p: _blocks.class_counts(p[1], classes), parts, pure=False)))
                class_weight = counts.sum() / (len(classes) * counts)
            elif self.class_weight is not None:
                # a dict needs no counts: the plain estimator's own check and mapping
                class_weight = template._class_weight_vector(np.arange(len(classes)))
        else:
            first = client.submit(lambda p: np.ndim(p[1]), parts[0], pure=False).result()
            template._y_1d = first == 1

        blocks = client.map(lambda p: _blocks.make_block(template, p[0], p[1], p[2],
                                                         class_weight, dtype, self.n_jobs),
                            parts, pure=False)
        try:
            wait(blocks)
            n_features = client.submit(lambda b: b.X.shape[1], blocks[0], pure=False).result()
            K = client.submit(lambda b: b.loss.n_outputs, blocks[0], pure=False).result()
            stats = client.gather(client.map(_blocks.block_stats, blocks, pure=False))
            S = sum(s[0] for s in stats)
            totals = sum(s[1] for s in stats)
            loss = client.submit(_blocks.loss_spec_meta, blocks[0], pure=False).result()
            result = self._lbfgs(client, blocks, template, loss, n_features, K, S, totals)
        finally:
            client.cancel(blocks)
        # all computed: only now is the estimator changed
        self._store(template, result, n_features, K, dtype)
        return self

    def _lbfgs(self, client, blocks, template, loss, d, K, S, totals):
        if not S > 0:
            raise ValueError("sample_weight sums to zero: give some samples a positive weight")
        alpha = template._alpha_for(None, None, S)
        opt = template._optimizer_spec(alpha)
        check_lbfgs(LOSSES[loss.name], opt)   # the in-memory fit's conditions
        l1, l2 = opt.l1_l2()
        P = d * K
        theta0 = np.zeros(P + K)
        if self.fit_intercept:
            theta0[P:] = intercept_only(loss, sums=(S, totals))   # as the in-memory fit
        rounds = {"n": 0, "time": 0.0}
        curve = []

        def fun(theta):
            t0 = time.perf_counter()
            if not self.fit_intercept:
                theta = theta.copy()
                theta[P:] = 0.0
            f, g = self._round(client, blocks, theta)
            rounds["n"] += 1
            rounds["time"] += time.perf_counter() - t0
            # the smooth part: minimize_penalized adds the L1 term (OWL-QN)
            f, g = regularized(f / S, g / S, theta, P, 0.0, l2)
            if not self.fit_intercept:
                g[P:] = 0.0
            curve.append(f + penalty(theta[:P], l1, 0.0))
            return f, g

        # as the in-memory fit (`_lbfgs.fit_lbfgs`): the column moments decide
        # the centering and the precondition
        moments = client.gather(client.map(_blocks.column_moments, blocks, pure=False))
        col_sums, col_sq = sum(m[0] for m in moments), sum(m[1] for m in moments)
        center = CenteredIntercept.of(col_sums, col_sq, S, K, self.fit_intercept)
        if center is not None:
            col_sq = center.column_squares(col_sq, S)
            fun, theta0 = center.wrap(fun), center.centered(theta0)
        precondition = diagonal_precondition(
            diagonal_curvature(col_sq, S, start_curvature(loss, sums=(S, totals)), l2, K,
                               self.fit_intercept),
            zero_column_weights(col_sq, K, self.fit_intercept))
        if precondition is not None and not self.fit_intercept:
            # (b stays 0: its gradient is zeroed, any scale does)
            precondition = np.concatenate([precondition, np.ones(K)])
        res = minimize_penalized(fun, theta0, l1, P,
                                 lbfgs_options(P + K, self.max_iter, self._tol("lbfgs")),
                                 precondition=precondition)
        if not np.all(np.isfinite(res.x)) or not np.isfinite(res.fun):
            raise FloatingPointError("the distributed L-BFGS fit produced non-finite "
                                     "parameters: standardize X (and y)")
        warn_unless_converged(res, self.max_iter, self._tol("lbfgs"))
        theta = res.x if center is None else center.uncentered(res.x)
        return {"theta": theta, "n_iter": int(res.nit), "curve": curve, "alpha": alpha,
                "rounds": rounds["n"], "round_time": rounds["time"]}

    def _round(self, client, blocks, theta, attempts=3):
        """Sums of the loss and gradient of all blocks at theta.  A worker lost
        in the round (its blocks are recomputed by the scheduler from their
        graph) is retried; an error of the computation itself is not."""
        for attempt in range(attempts):
            try:
                return _sum_round(client, blocks, theta)
            except (ValueError, TypeError, FloatingPointError, MemoryError):
                raise
            except Exception as exc:   # lost worker / connection: try again
                if attempt == attempts - 1:
                    raise RuntimeError(
                        f"the distributed fit lost a worker and could not recover ({exc!r}). "
                        "Blocks of a dask array are recomputed from their graph; in-memory data "
                        "scattered by fit is lost with its worker: pass a dask array, or "
                        "retry") from exc
                client.wait_for_workers(1, timeout=60)

    def _store(self, template, result, d, K, dtype):
        """Set the fitted attributes in one step (nothing before: a failed fit
        leaves the estimator as it was)."""
        theta = result["theta"].astype(dtype)
        P = d * K
        coef = theta[:P].reshape(d, K).T.copy()
        intercept = theta[P:].copy() if self.fit_intercept else np.zeros(K, dtype)
        new = {attr: getattr(template, attr) for attr in ("classes_", "_y_1d")
               if hasattr(template, attr)}
        new.update(template._coef_attrs(coef, intercept), n_features_in_=d,
                   n_iter_=result["n_iter"], loss_curve_=result["curve"],
                   n_rounds_=result["rounds"])
        if hasattr(template, "C"):
            new["alpha_"] = result["alpha"]
        self.__dict__.update(new)

    # -- prediction -------------------------------------------------------------
    def _lazy(self, method, X, n_out):
        Xd = _to_dask_array(X, "X")
        local = getattr(self.to_local(), method)
        if Xd is None:
            return local(X)
        Xd = Xd.rechunk({1: -1})
        if n_out is None:
            return Xd.map_blocks(local, drop_axis=1, dtype=self._predict_dtype(method))
        return Xd.map_blocks(local, chunks=(Xd.chunks[0], (n_out,)), dtype=np.float64)

    def predict(self, X):
        """Predictions, lazily per block for a dask X (in memory otherwise).

        Parameters
        ----------
        X : dask array, dask DataFrame, array or CSR matrix of shape (n_samples, n_features)
            A dask X is predicted block by block on the workers, lazily.

        Returns
        -------
        y_pred : dask array for a dask X, else ndarray
            Of the plain estimator's predict shape.
        """
        return self._lazy("predict", X, self._n_predict_columns())

    def to_local(self):
        """The plain (in-memory) skce estimator with this fit's coefficients.

        Returns
        -------
        estimator : skce.SoftmaxClassifier, LinearSVM or LinearRegressor
            Same parameters and fitted attributes; no dask needed to use it.
        """
        local = self._local_class(**self.get_params())
        for k, v in vars(self).items():
            if k.endswith("_") and not k.startswith("__") or k == "_y_1d" or k == "_n_outputs":
                setattr(local, k, v)
        return local


class _DaskClassifierMixin(_DaskFitMixin):
    def _n_predict_columns(self):
        return None

    def _predict_dtype(self, method):
        return self.classes_.dtype

    def decision_function(self, X):
        """Decision function, lazily per block for a dask X.

        Parameters
        ----------
        X : dask array, dask DataFrame, array or CSR matrix of shape (n_samples, n_features)
            A dask X is predicted block by block on the workers, lazily.

        Returns
        -------
        scores : dask array for a dask X, else ndarray
            Shape (n_samples,) for two classes, else (n_samples, n_classes).
        """
        return self._lazy("decision_function", X,
                          None if len(self.classes_) == 2 else len(self.classes_))


def _lbfgs_default(local_class):
    """The plain estimator's signature with solver='lbfgs' as the default."""
    sig = inspect.signature(local_class.__init__)
    params = [p.replace(default="lbfgs") if p.name == "solver" else p
              for p in sig.parameters.values()]

    def __init__(self, **kwargs):
        values = {p.name: p.default for p in params[1:]}
        unknown = set(kwargs) - set(values)
        if unknown:
            raise TypeError(f"unexpected parameters {sorted(unknown)}")
        values.update(kwargs)
        for k, v in values.items():
            setattr(self, k, v)
    __init__.__signature__ = sig.replace(parameters=params)
    return __init__


class SoftmaxClassifier(_DaskClassifierMixin, _LocalSoftmax):
    """`skce.SoftmaxClassifier` fitted data-parallel on dask (see module doc).

    The parameters are SoftmaxClassifier's, with ``solver="lbfgs"`` the
    default and the only solver `fit` runs; ``to_local()`` gives the plain
    estimator.
    """
    _local_class = _LocalSoftmax
    _parameter_constraints = {**_LocalSoftmax._parameter_constraints,
                              "solver": [StrOptions({"lbfgs"})]}
    __init__ = _lbfgs_default(_LocalSoftmax)

    def predict_proba(self, X):
        """Class probabilities, lazily per block for a dask X.

        Parameters
        ----------
        X : dask array, dask DataFrame, array or CSR matrix of shape (n_samples, n_features)
            A dask X is predicted block by block on the workers, lazily.

        Returns
        -------
        proba : dask array for a dask X, else ndarray, of shape (n_samples, n_classes)
        """
        return self._lazy("predict_proba", X, len(self.classes_))

    def predict_log_proba(self, X):
        """Log class probabilities, lazily per block for a dask X.

        Parameters
        ----------
        X : dask array, dask DataFrame, array or CSR matrix of shape (n_samples, n_features)
            A dask X is predicted block by block on the workers, lazily.

        Returns
        -------
        log_proba : dask array for a dask X, else ndarray, of shape (n_samples, n_classes)
        """
        return self._lazy("predict_log_proba", X, len(self.classes_))


class LinearSVM(_DaskClassifierMixin, _LocalSVM):
    """`skce.LinearSVM` fitted data-parallel on dask (squared hinge: L-BFGS
    needs a smooth loss).  ``solver="lbfgs"`` is the default."""
    _local_class = _LocalSVM
    _parameter_constraints = {**_LocalSVM._parameter_constraints,
                              "solver": [StrOptions({"lbfgs"})]}
    __init__ = _lbfgs_default(_LocalSVM)


class LinearRegressor(_DaskFitMixin, _LocalRegressor):
    """`skce.LinearRegressor` fitted data-parallel on dask.  ``solver="lbfgs"``
    is the default."""
    _local_class = _LocalRegressor
    _parameter_constraints = {**_LocalRegressor._parameter_constraints,
                              "solver": [StrOptions({"lbfgs"})]}
    __init__ = _lbfgs_default(_LocalRegressor)

    def _n_predict_columns(self):
        return None if self._y_1d or self._n_outputs == 1 else self._n_outputs

    def _predict_dtype(self, method):
        return np.float64


def _local_sections(local_class):
    """The plain estimator's Parameters and Attributes sections (its
    docstring from "Parameters" on), for help() of the dask estimator."""
    doc = local_class.__doc__
    return "\n\n    " + doc[doc.index("Parameters\n"):].rstrip() + "\n    "


for _cls in (SoftmaxClassifier, LinearSVM, LinearRegressor):
    _cls.__doc__ = _cls.__doc__.rstrip() + _local_sections(_cls._local_class)
del _cls
