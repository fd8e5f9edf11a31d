"""solver="newton-cholesky": Newton's method with the exact Hessian, for
the elementwise losses.

With an elementwise loss (binary cross-entropy, squared error, Huber,
squared hinge: binary classification, one-vs-rest margins, regression with
one or several targets) the outputs do not interact: the Hessian of the
objective is block diagonal, one (d + 1) x (d + 1) block per output k,

    H_k = Xᵀ diag(c_k) X / sum_i s_i + l2 I     (with the intercept: X gets a
                                                  column of ones, not penalized)

with c_ik = s_i * scale * loss''(z_ik) (`skce._loss._registry.row_hessian`).
A block costs one pass over X with O(n d^2) work, and Newton's steps
converge quadratically: a handful of passes reach the optimum where L-BFGS
needs hundreds (a9a to 1e-8: 7 Newton iterations, 200 L-BFGS ones).  As
scikit-learn's ``LogisticRegression(solver="newton-cholesky")``: each block
is solved by a Cholesky factorization (a least-squares solve when it is
singular, e.g. the squared hinge with no active row and no L2), each step
backtracks (Armijo) on the objective, and ``tol`` bounds the max-norm of the
gradient (as lbfgs's gtol).  The objective and its gradient are
`LinearObjective`'s; the blocks are accumulated over the same row chunks
(memory O(chunk * d + d^2): one block at a time; CSR read in place, its
Gram matrix in C, src/solver/gram.c).  The multinomial cross-entropy
couples the classes (a d K x d K Hessian): lbfgs.  Only the L2 penalty (or
none): L1 is not twice differentiable (lbfgs, i.e. OWL-QN).
"""
import time
import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse._sparsetools import csr_matvec
from sklearn.exceptions import ConvergenceWarning

from skce._loss._registry import row_hessian
from skce._solver import _epoch
from skce._solver._objective import LinearObjective
from skce.exceptions import TrainingDiverged

__all__ = ["fit_newton", "check_newton", "MAX_FEATURES"]

# (d + 1)^2 float64 Hessian blocks and O(n d^2) work per output and pass:
# beyond this many features L-BFGS's O(n d) passes win
MAX_FEATURES = 2000
_ARMIJO = 1e-4
_MAX_HALVINGS = 40


def check_newton(loss_info, opt, n_features):
    """ValueError unless Newton's method applies (see the module doc)."""
    if loss_info.target == "index":
        raise ValueError(
            f"solver='newton-cholesky' needs an elementwise loss (one Hessian block per "
            f"output); {loss_info.name!r} couples the classes (a d K x d K Hessian). Binary "
            "problems and one-vs-rest margins are elementwise; use solver='lbfgs' here")
    if "newton-cholesky" not in loss_info.solvers:
        raise ValueError(
            f"solver='newton-cholesky' needs a twice differentiable loss (binary "
            f"cross-entropy, squared error, Huber, squared hinge); {loss_info.name!r} is "
            "not one. Use a smooth loss (e.g. squared_hinge) or solver='sgd' / 'adam'")
    if n_features > MAX_FEATURES:
        raise ValueError(
            f"solver='newton-cholesky' forms the {n_features + 1} x {n_features + 1} Hessian: "
            f"at most {MAX_FEATURES} features. Use solver='lbfgs'")
    if opt.l1_l2()[0]:
        raise ValueError(
            f"solver='newton-cholesky' supports penalty='l2' or None, not "
            f"penalty={opt.penalty!r} (L1 is not twice differentiable); use solver='lbfgs'")


def _output_params(k, d, K, fit_intercept):
    """Indices in theta of output k's weights W[:, k] (and intercept b[k])."""
    idx = np.arange(d) * K + k
    return np.append(idx, d * K + k) if fit_intercept else idx


def _hessian(objective, theta, k):
    """The Hessian block of output k of `objective` at theta, float64, over
    the parameters _output_params(k) (an elementwise loss: the outputs do
    not interact, the Hessian is block diagonal)."""
    X, spec = objective.X, objective.spec
    d, fi = objective.n_features, objective.fit_intercept
    W, b = objective.unpack(theta)
    wd, bk = np.ascontiguousarray(W[:, k], dtype=X.dtype), (b[k] if fi else 0.0)
    H = np.zeros((d + fi, d + fi))
    H_w = H[:d, :d] if not fi else np.zeros((d, d))   # (a C-contiguous block)
    for r0, r1, Xc in objective._chunks:   # (CSR: Xc is the chunk's indptr view)
        if sp.issparse(X):   # the scores of the chunk's rows, read in place
            z = np.zeros(r1 - r0, dtype=X.dtype)
            csr_matvec(r1 - r0, d, Xc, objective._indices, objective._data, wd, z)
        else:
            z = Xc @ wd
        z = z.astype(np.float64) + bk
        c = row_hessian(spec, z, np.asarray(spec.Y[r0:r1, k], dtype=np.float64))
        if objective.sample_weight is not None:
            c = c * objective.sample_weight[r0:r1]
        c = np.ascontiguousarray(c, dtype=np.float64)
        if sp.issparse(X):
            xc = np.zeros(d)
            _epoch.csr_weighted_gram(objective._data, objective._indices, X.indptr, r0, r1,
                                     c, H_w, xc)
        else:
            Xw = Xc * c[:, None].astype(X.dtype)
            H[:d, :d] += Xc.T @ Xw
            xc = Xw.sum(axis=0, dtype=np.float64)
        if fi:
            H[:d, d] += xc
            H[d, d] += c.sum()
    if fi:
        if sp.issparse(X):
            H[:d, :d] = H_w
        H[d, :d] = H[:d, d]
    H /= objective.weight_sum
    H[np.arange(d), np.arange(d)] += objective.l2
    return H


def _newton_step(objective, theta, g):
    """-H^-1 g, block by block: Cholesky, or least squares where a block is
    not positive definite (e.g. the squared hinge with no active row)."""
    d, K, fi = objective.n_features, objective.n_outputs, objective.fit_intercept
    step = np.empty_like(g)
    for k in range(K):
        idx = _output_params(k, d, K, fi)
        H = _hessian(objective, theta, k)
        try:
            step[idx] = -scipy.linalg.cho_solve(scipy.linalg.cho_factor(H, check_finite=False),
                                                g[idx], check_finite=False)
        except scipy.linalg.LinAlgError:
            step[idx] = -scipy.linalg.lstsq(H, g[idx], check_finite=False)[0]
    return step


def fit_newton(X, loss, opt, state, *, sample_weight=None, fit_intercept=True, max_iter=100,
               tol=1e-4, n_threads=1, verbose=0, callback=None):
    """Minimize the objective from `state` (a SolverState, set in place to the
    result) by Newton's method; the arguments and result are `fit_lbfgs`'s
    (n_iter: Newton iterations)."""
    from skce._solver._train import TrainResult, _single_threaded_blas   # (import cycle)
    _, l2 = opt.l1_l2()
    objective = LinearObjective(X, loss, l2=l2, sample_weight=sample_weight,
                                fit_intercept=fit_intercept, n_threads=n_threads)
    P = objective.n_features * objective.n_outputs
    model = np.asarray(state.model, dtype=np.float64)
    theta = objective.pack(model[:P], model[P:])
    tol = 0.0 if tol is None else tol
    loss_curve, n_iter, n_eval = [], 0, 0
    t_start = time.perf_counter()
    converged = False
    with _single_threaded_blas():
        f, g = objective.loss_gradient(theta)
        n_eval += 1
        if not np.isfinite(f):
            raise TrainingDiverged(
                f"the objective is not finite ({f}) at the starting parameters: the scores "
                "overflow. Standardize X (e.g. with StandardScaler) or start without "
                "warm_start. The model was left unchanged")
        while True:
            if np.abs(g).max(initial=0.0) <= tol:
                converged = True
                break
            if n_iter >= max_iter:
                break
            step = _newton_step(objective, theta, g)
            slope = float(g @ step)
            if not slope < 0:   # (rounding, or a singular H): steepest descent
                step, slope = -g, -float(g @ g)
            t = 1.0
            for _ in range(_MAX_HALVINGS):
                f_new, g_new = objective.loss_gradient(theta + t * step)
                n_eval += 1
                if f_new <= f + _ARMIJO * t * slope:
                    break
                t *= 0.5
            else:   # no decrease left at float64 resolution: the optimum
                converged = True
                break
            decrease = (f - f_new) / max(abs(f), abs(f_new), 1.0)
            theta, f, g = theta + t * step, f_new, g_new
            n_iter += 1
            loss_curve.append(float(f))
            if verbose:
                print(f"-- Iteration {n_iter}: objective {f:.10g}, max |gradient| "
                      f"{np.abs(g).max():.3g}, step {t:g}, {time.perf_counter() - t_start:.2f} s")
            if callback is not None:
                W, b = objective.unpack(theta)
                if callback(n_iter, W.T.astype(X.dtype), b.astype(X.dtype), float(f)):
                    converged = True
                    break
            if decrease <= 64 * np.finfo(float).eps:
                converged = True
                break
    if not converged:
        warnings.warn(
            f"newton-cholesky failed to converge after {n_iter} iterations "
            f"(max_iter={max_iter}); increase max_iter or standardize X", ConvergenceWarning)
    W, b = objective.unpack(theta)
    state.set_model(np.concatenate([W.ravel(), b]).astype(state.theta.dtype))
    state.step += n_eval
    return TrainResult(n_iter, loss_curve, [], None)
