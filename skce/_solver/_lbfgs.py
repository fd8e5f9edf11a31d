"""The full-batch solver of every skce estimator: L-BFGS on `LinearObjective`.

``solver="lbfgs"`` minimizes the same objective as the minibatch loop
(skce._solver._train) with ``scipy.optimize.minimize(method="L-BFGS-B")``
(from 10^4 parameters on with skce's own L-BFGS, `_OWN_LBFGS_PARAMS`),
with the options of scikit-learn's ``LogisticRegression(solver="lbfgs")``:
``gtol=tol`` (max-norm of the projected gradient), ``ftol=64 * eps``,
``maxiter=max_iter``, ``maxls=50``; and 30 correction pairs (scipy's
default is 10) while they take at most 64 MB: on a9a (C=1, to gtol 1e-10)
that took the evaluations from 702 to 326, on letter from 210 to 194.  L-BFGS runs in float64 on the (small)
parameter vector; the passes over X keep X's dtype.  Only smooth losses
apply.  With an L1 part (penalty="l1" / "elasticnet") the objective is not
differentiable at 0: then OWL-QN (skce._solver._owlqn) minimizes it, with the
same options, on the smooth part (loss and L2) plus the L1 term; ``tol``
then bounds the max-norm of the pseudo-gradient (the minimum-norm
subgradient).
"""
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

from skce._solver._objective import LinearObjective, zero_column_weights
from skce._solver._owlqn import minimize_owlqn
from skce.exceptions import TrainingDiverged

__all__ = ["fit_lbfgs", "check_lbfgs", "lbfgs_options", "minimize_penalized", "uses_own_lbfgs",
           "diagonal_precondition", "warn_unless_converged", "CenteredIntercept"]

_MAXCOR, _MAXCOR_BYTES = 30, 64 * 2**20
_PRECONDITION_SPREAD = 2.0
# From this many parameters on, skce's L-BFGS (skce._solver._owlqn with l1 = 0)
# in place of scipy's L-BFGS-B, whose update costs 2.3-2.7x as much per
# iteration (30 pairs: 0.97 against 0.42 ms at 10^4 parameters, 11.8 against
# 4.5 ms at 10^5); sparse 40,000 x 5,000, 20 classes, to tol 1e-10: 5.1 ->
# 3.7 s.  Below it the update is a small part of an iteration, and L-BFGS-B's
# own line search (dcsrch) is steadier where F changes by its rounding: in
# scikit-learn's sample-weight check of LinearSVM(C=0.1, tol=1e-10) the
# weighted and the repeated-rows fits agree with it, and differ by 1e-7 in
# their coefficients with skce's (both stop on ftol at |g| ~ 1e-8).
_OWN_LBFGS_PARAMS = 10_000
# CenteredIntercept: a column whose squared mean exceeds this share of its
# mean square (its variance below 9 times its squared mean)
_CENTER_SHARE = 0.1


def _maxcor(n_params):
    """Correction pairs L-BFGS keeps: 30, fewer (not below scipy's 10) when
    their 2 * maxcor * n_params float64 values would exceed 64 MB."""
    return int(max(10, min(_MAXCOR, _MAXCOR_BYTES // (16 * max(n_params, 1)))))


def lbfgs_options(n_params, max_iter, tol):
    """scipy L-BFGS-B options of every skce L-BFGS fit (in memory and skce.dask):
    LogisticRegression(solver="lbfgs")'s, with `_maxcor` correction pairs."""
    return {"maxiter": max_iter, "maxls": 50, "maxcor": _maxcor(n_params),
            "gtol": 0.0 if tol is None else tol, "ftol": 64 * np.finfo(float).eps}


def check_lbfgs(loss_info, opt):
    """ValueError unless L-BFGS applies to loss `loss_info` (a registry row);
    every penalty of `opt` (an OptimizerSpec) does (L1: OWL-QN)."""
    if "lbfgs" not in loss_info.solvers:
        hint = " (e.g. squared_hinge)" if "hinge" in loss_info.name else ""
        raise ValueError(
            f"solver='lbfgs' needs a smooth loss; {loss_info.name!r} is not differentiable. "
            f"Use a smooth loss{hint} or solver='sgd' / 'adam'")


def warn_unless_converged(result, max_iter, tol):
    """A ConvergenceWarning for an L-BFGS / OWL-QN result (`minimize_penalized`)
    that stopped short of tol: max_iter reached, or a line search that found
    no decrease (as scikit-learn warns for L-BFGS-B's; silent, such a fit can
    return its starting point)."""
    if result.status == 1:
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iterations (max_iter={max_iter}); "
            "increase max_iter or standardize X (e.g. with StandardScaler)",
            ConvergenceWarning)
    elif result.status == 2:
        warnings.warn(
            f"lbfgs stopped after {result.nit} iterations, the max-norm of the gradient at "
            f"{np.abs(result.jac).max():.2g} above tol={tol}: no step along its search "
            "direction decreased the objective. Either the objective is badly scaled "
            "(standardize X, e.g. with StandardScaler) or it changes below its rounding "
            "error (a larger tol)", ConvergenceWarning)


def uses_own_lbfgs(l1, n_params, precondition=None):
    """Whether `minimize_penalized` runs skce's L-BFGS / OWL-QN (else scipy's
    L-BFGS-B, which takes no precondition): with L1, from
    `_OWN_LBFGS_PARAMS` parameters on, and wherever the diagonal
    precondition applies (raw letter, centered: 73 iterations to tol 1e-4
    against L-BFGS-B's 115, 200 to 1e-8 against 375)."""
    return bool(l1) or n_params >= _OWN_LBFGS_PARAMS or precondition is not None


def diagonal_precondition(h, fixed=None):
    """The precondition of skce's L-BFGS for the Hessian diagonal estimate h
    (`_objective.diagonal_curvature`): 1 / h, or None (gamma I) when h is
    within a factor 2 of constant, as for standardized dense X: there it has
    no scales to follow and would only change the path by rounding.  fixed:
    a mask of the entries left out of that test, the weights of all-zero
    columns (`_objective.zero_column_weights`: only the L2 term acts on
    them, and from 0 they never move)."""
    free = h if fixed is None else h[~fixed]
    return 1.0 / h if free.size and free.max() > _PRECONDITION_SPREAD * free.min() else None


class CenteredIntercept:
    """L-BFGS's parameters (W, c) with c = b + Wᵀμ, μ the weighted column
    means of X: the intercept of the same model written on X - 1μᵀ (scores
    X W + b = (X - 1μᵀ) W + c), without forming X - 1μᵀ.  F is the same
    function, its minimizer the same model; only the Hessian changes: in
    (W, b) every weight of a column with mean μ_j is coupled to the
    intercept by μ_j, which for uncentered columns makes the problem
    ill-conditioned for L-BFGS (raw letter, values 0..15, means 2-8: 1766
    iterations to tol 1e-4 against 115 centered).  Applied when some
    column's mean carries more than `_CENTER_SHARE` of its mean square (not
    for standardized X: there it would change the path only by rounding).
    tol then bounds the gradient in (W, c)."""

    def __init__(self, mean, n_outputs):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.n_outputs = int(n_outputs)
        self._P = self.mean.size * self.n_outputs

    @classmethod
    def of(cls, sums, squares, weight_sum, n_outputs, fit_intercept):
        """The centering for column sums / squares (`LinearObjective.column_moments`,
        weights summing to weight_sum), or None where it does not apply: no
        intercept, or every column's squared mean within `_CENTER_SHARE` of
        its mean square."""
        if not fit_intercept or not np.size(sums):
            return None
        mean = np.asarray(sums, dtype=np.float64) / weight_sum
        mean_square = np.asarray(squares, dtype=np.float64) / weight_sum
        if not np.any(mean * mean > _CENTER_SHARE * mean_square):
            return None
        return cls(mean, n_outputs)

    def _W(self, theta):
        return theta[:self._P].reshape(self.mean.size, self.n_outputs)

    def centered(self, theta):
        """(W, b) -> (W, c)."""
        out = np.array(theta, dtype=np.float64)
        out[self._P:] += self.mean @ self._W(out)
        return out

    def uncentered(self, theta):
        """(W, c) -> (W, b)."""
        out = np.array(theta, dtype=np.float64)
        out[self._P:] -= self.mean @ self._W(out)
        return out

    def gradient(self, g):
        """F's gradient in (W, b) -> its gradient in (W, c): dF/dW - μ (dF/db)ᵀ, dF/db."""
        out = np.array(g, dtype=np.float64)
        self._W(out)[:] -= np.outer(self.mean, out[self._P:])
        return out

    def wrap(self, fun):
        """fun(theta) -> (f, gradient) in (W, b), as the same in (W, c)."""
        def centered_fun(theta):
            f, g = fun(self.uncentered(theta))
            return f, self.gradient(g)
        return centered_fun

    def column_squares(self, squares, weight_sum):
        """sum_i s_i (x_ij - μ_j)^2 from sum_i s_i x_ij^2: the column squares
        of the centered X (`_objective.diagonal_curvature`); 0 for a constant
        column (where the difference is its rounding error)."""
        squares = np.asarray(squares, dtype=np.float64)
        out = squares - weight_sum * self.mean * self.mean
        out[out <= 1e-10 * squares] = 0.0
        return out


def minimize_penalized(fun, x0, l1, n_weights, options, callback=None, precondition=None):
    """Minimize fun(x)[0] + l1 ||x[:n_weights]||_1 (fun -> (f, gradient): the
    smooth part) with the L-BFGS options `options` (`lbfgs_options`): with l1,
    OWL-QN; without, skce's L-BFGS from `_OWN_LBFGS_PARAMS` parameters on and
    scipy's L-BFGS-B below (`uses_own_lbfgs`).  precondition: the diagonal
    scaling of skce's L-BFGS (`minimize_owlqn`; L-BFGS-B has none).  scipy's
    OptimizeResult."""
    if uses_own_lbfgs(l1, np.size(x0), precondition):
        return minimize_owlqn(fun, x0, l1, n_weights, callback=callback,
                              precondition=precondition, **options)
    return minimize(fun, x0, method="L-BFGS-B", jac=True, callback=callback, options=options)


def fit_lbfgs(X, loss, opt, state, *, sample_weight=None, fit_intercept=True, max_iter=100,
              tol=1e-4, n_threads=1, verbose=0, callback=None):
    """Minimize the objective from `state` (a SolverState, set in place to the result).

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features), of the state's dtype
    loss : LossSpec
    opt : OptimizerSpec
        Its alpha and penalty define the objective.
    state : SolverState
        Start (its model) and result.
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept : bool
    max_iter : int
        L-BFGS iterations at most (a ConvergenceWarning when reached).
    tol : float or None
        Stop when the max-norm of the projected gradient (with L1: the
        pseudo-gradient) is <= tol (None: 0).
    n_threads : int
        Threads of the OpenMP kernels (BLAS runs single-threaded).
    verbose : int
        Print the objective every iteration.
    callback : callable or None
        callback(iteration, coef, intercept, objective) after each iteration;
        a true return value stops.

    Returns
    -------
    result : TrainResult
        n_iter (L-BFGS iterations), loss_curve (objective after each
        iteration).

    Raises
    ------
    TrainingDiverged
        If the objective is not finite at the start (overflow); `state` is
        then unchanged.
    """
    from skce._solver._train import TrainResult, _single_threaded_blas   # (import cycle)
    l1, l2 = opt.l1_l2()
    # the smooth part: minimize_penalized adds the L1 term
    objective = LinearObjective(X, loss, l2=l2, sample_weight=sample_weight,
                                fit_intercept=fit_intercept, n_threads=n_threads)
    n_features, K = objective.n_features, objective.n_outputs
    P = n_features * K
    model = np.asarray(state.model, dtype=np.float64)
    theta0 = objective.pack(model[:P], model[P:])
    loss_curve = []
    stopped = []   # set when the user's callback asks to stop
    t_start = time.perf_counter()

    def model_of(x):   # the minimizer's parameters -> theta = (W, b)
        return x if center is None else center.uncentered(x)

    def coef_intercept(x):
        W, b = objective.unpack(model_of(x))
        return W.T.astype(X.dtype), b.astype(X.dtype)

    def on_iteration(intermediate_result):
        loss_curve.append(float(intermediate_result.fun))
        if verbose:
            print(f"-- Iteration {len(loss_curve)}: objective {loss_curve[-1]:.10g}, "
                  f"{time.perf_counter() - t_start:.2f} s")
        if callback is not None:
            coef, intercept = coef_intercept(intermediate_result.x)
            if callback(len(loss_curve), coef, intercept, loss_curve[-1]):
                stopped.append(True)
                raise StopIteration

    # BLAS single-threaded, as in the minibatch loop: between the OpenMP
    # kernels' parallel regions, BLAS's own threads spin and take the cores
    # (letter, 2 threads: 1.62 s with 2 BLAS threads, 0.36 s with 1)
    with _single_threaded_blas():
        # the start's pass, also the minimizer's first evaluation (a pass of
        # 13 on the dense 240,000 x 100 default fit, 11 iterations)
        # with X's column moments: whether L-BFGS runs on centered parameters,
        # and the precondition's column squares
        f0, g0, (sums, squares) = objective.loss_gradient_moments(theta0)
        center = CenteredIntercept.of(sums, squares, objective.weight_sum, K, fit_intercept)
        if center is not None:
            squares = center.column_squares(squares, objective.weight_sum)
        if not np.isfinite(f0):
            raise TrainingDiverged(
                f"the objective is not finite ({f0}) at the starting parameters: the scores "
                "overflow. Standardize X (e.g. with StandardScaler) or start without "
                "warm_start. The model was left unchanged")
        precondition = diagonal_precondition(
            objective.diagonal_curvature(squares), zero_column_weights(squares, K, fit_intercept))
        fun, x0 = objective.loss_gradient, theta0
        if center is not None:
            fun, x0, g0 = center.wrap(fun), center.centered(theta0), center.gradient(g0)
        start = [(x0.copy(), f0, g0)]

        def loss_gradient(x):
            if start:
                xs, f, g = start.pop()
                if np.array_equal(x, xs):
                    return f, g
            return fun(x)

        result = minimize_penalized(
            loss_gradient, x0, l1, P,
            lbfgs_options(objective.n_params, max_iter, tol), callback=on_iteration,
            precondition=precondition)
    n_iter = int(result.nit)
    if not stopped:
        warn_unless_converged(result, max_iter, tol)
    W, b = objective.unpack(model_of(result.x))
    state.set_model(np.concatenate([W.ravel(), b]).astype(state.theta.dtype))
    state.step += int(result.nfev)
    return TrainResult(n_iter, loss_curve, [], None)
