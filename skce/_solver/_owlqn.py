"""skce's L-BFGS: plain (l1 = 0) and OWL-QN, for a smooth function plus an L1 penalty.

Orthant-wise limited-memory quasi-Newton (Andrew & Gao, 2007, "Scalable
training of L1-regularized log-linear models") minimizes

    F(x) = f(x) + l1 ||x[:n_weights]||_1

(f smooth: the loss and the L2 part; the intercept after n_weights is not
penalized).  Within one orthant F is smooth, so OWL-QN is L-BFGS there:
the steepest-descent direction of F is minus its pseudo-gradient (the
minimum-norm subgradient), the quasi-Newton direction comes from the
pseudo-gradient and the curvature pairs of f alone (the L1 term is linear in
an orthant), the direction is kept in the orthant the pseudo-gradient
points to, and every trial point is projected onto that orthant
(coordinates that would change sign stay at 0 -- how weights become
exactly 0).  The stopping rules are those of scipy's L-BFGS-B with
`skce._solver._lbfgs.lbfgs_options`: the max-norm of the pseudo-gradient
(the projected gradient's counterpart) <= gtol, a relative decrease of F
<= ftol, or maxiter iterations.

With l1 = 0 it is plain L-BFGS, which solver="lbfgs" runs in place of
scipy's L-BFGS-B on large problems (`_lbfgs._OWN_LBFGS_PARAMS`): the same
stopping rules, a strong-Wolfe line search (scipy's `line_search`; as
L-BFGS-B's dcsrch, its curvature condition keeps every pair's s.y > 0) with
approximate-Wolfe steps where F is lost in its rounding, and the two-loop
recursion in BLAS, in place (why, and where: `_lbfgs._OWN_LBFGS_PARAMS`).
"""
import warnings

import numpy as np
from scipy.linalg.blas import daxpy, ddot
from scipy.optimize import OptimizeResult, line_search

__all__ = ["minimize_owlqn"]

_EPS = np.finfo(np.float64).eps
_ARMIJO = 1e-4   # sufficient-decrease constant (L-BFGS-B's ftol of its line search)
# how far F may rise in an approximate-Wolfe step: its rounding error (a sum
# of n rounded terms, relative error up to ~n eps; Hager & Zhang allow 1e-6)
_F_ROUNDING = 1e-10


def _pseudo_gradient(x, g, l1, n_weights):
    """The minimum-norm subgradient of F at x given f's gradient g."""
    pg = g.copy()
    w, gw = x[:n_weights], g[:n_weights]
    up, down = gw + l1, gw - l1   # one-sided derivatives at w = 0
    pg[:n_weights] = np.where(w > 0, up, np.where(w < 0, down, np.where(
        up < 0, up, np.where(down > 0, down, 0.0))))
    return pg


def _two_loop(v, pairs, precondition=None):
    """H v for the L-BFGS inverse-Hessian approximation of the pairs (s, y, 1/s.y),
    from H0 = gamma I, or gamma diag(precondition) when given, with gamma =
    s.y / y.H0 y of the newest pair (1 without pairs)."""
    # (BLAS, in place: no temporaries of n parameters; 30 pairs of 10^5
    # parameters, 13 -> 10 ms a call)
    q = np.array(v, dtype=np.float64)
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * ddot(s, q)
        q = daxpy(y, q, a=-a)
        alphas.append(a)
    if precondition is not None:
        if pairs:
            s, y, _ = pairs[-1]
            q *= precondition * (ddot(s, y) / np.dot(y, precondition * y))
        else:
            q *= precondition
    elif pairs:
        s, y, _ = pairs[-1]
        q *= ddot(s, y) / ddot(y, y)
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        q = daxpy(s, q, a=a - rho * ddot(y, q))
    return q


def _orthant_step(full, x, F, pg, d, n_weights, maxls):
    """OWL-QN's backtracking step along d from x, projected onto the orthant
    of the step (that of x, or of -pg where x is 0), to sufficient decrease:
    (x_new, F_new, g_new), or None after maxls halvings."""
    orthant = np.sign(x[:n_weights])
    at_zero = orthant == 0
    orthant[at_zero] = np.sign(-pg[:n_weights][at_zero])
    step = 1.0
    for _ in range(maxls):
        x_new = x + step * d
        w_new = x_new[:n_weights]
        w_new[np.sign(w_new) != orthant] = 0.0
        F_new, g_new = full(x_new)
        if F_new <= F + _ARMIJO * np.dot(pg, x_new - x):
            return x_new, F_new, g_new
        step *= 0.5
    return None


def _wolfe_step(full, x, F, g, d, maxls):
    """A strong-Wolfe step along the descent direction d from x (F, g there):
    (x_new, F_new, g_new), or None when the search fails."""
    evaluated = []   # the last trial points (x, F, g): line_search asks f, then f', at each

    def evaluate(x_trial):
        for xe, Fe, ge in evaluated:
            if np.array_equal(xe, x_trial):
                return Fe, ge
        Fe, ge = full(x_trial)
        evaluated[:] = evaluated[-1:] + [(x_trial, Fe, ge)]
        return Fe, ge

    with warnings.catch_warnings():
        # a failed search returns None, handled by the caller; scipy also warns
        # (its LineSearchWarning, a RuntimeWarning not exported by scipy.optimize)
        warnings.filterwarnings("ignore", "(The line search algorithm|Rounding errors)",
                                RuntimeWarning)
        step, *_ = line_search(lambda z: evaluate(z)[0], lambda z: evaluate(z)[1], x, d,
                               gfk=g, old_fval=F, c1=_ARMIJO, c2=0.9, maxiter=maxls)
    if step is not None:
        x_new = x + step * d
        return (x_new, *evaluate(x_new))
    # Near the optimum F changes by less than its rounding error and the
    # sufficient-decrease test fails on noise while the gradient is still
    # accurate: then Hager & Zhang's approximate Wolfe conditions (2005), which
    # test the slope and let F rise by its rounding, on the unit step and on
    # the secant step of the slopes (the line minimum of a quadratic).
    slope0 = float(np.dot(g, d))
    rounding = _F_ROUNDING * max(abs(F), 1.0)
    trial = 1.0
    for _ in range(2):
        x_new = x + trial * d
        F_new, g_new = evaluate(x_new)
        slope = float(np.dot(g_new, d))
        if F_new <= F + rounding and 0.9 * slope0 <= slope <= (2 * _ARMIJO - 1) * slope0:
            return x_new, F_new, g_new
        if not slope > slope0:   # no positive curvature along d: no secant step
            break
        trial *= slope0 / (slope0 - slope)
    return None


def minimize_owlqn(fun, x0, l1, n_weights, *, maxiter, maxcor, gtol, ftol, maxls,
                   callback=None, precondition=None):
    """Minimize fun(x)[0] + l1 ||x[:n_weights]||_1 by OWL-QN (l1 > 0) or L-BFGS (l1 = 0).

    Parameters
    ----------
    fun : callable
        fun(x) -> (f, gradient of f): the smooth part, float64.
    x0 : ndarray of shape (n,)
    l1 : float >= 0
        0: plain L-BFGS with a strong-Wolfe line search.
    n_weights : int
        The first n_weights entries of x are penalized.
    maxiter, maxcor, gtol, ftol, maxls
        As scipy's L-BFGS-B options (`lbfgs_options`): iterations, stored
        correction pairs, tolerance on the max-norm of the pseudo-gradient,
        on the relative decrease of F, and trial steps per line search.
    callback : callable or None
        callback(intermediate_result) after each iteration, with the
        ``x`` and ``fun`` (F) reached, as scipy's; StopIteration stops.
    precondition : ndarray of shape (n,) or None
        Positive: the initial inverse Hessian of every iteration is gamma *
        diag(precondition) (Gilbert & Lemarechal's diagonal scaling, 1989)
        instead of gamma * I, and the first step goes along
        -precondition * gradient.  1 / `_objective.diagonal_curvature`.

    Returns
    -------
    OptimizeResult
        x, fun (F), jac (the pseudo-gradient), nit, nfev, status (0:
        converged, 1: maxiter reached, 2: the line search found no
        decrease, 99: the callback stopped), success, message.
    """
    nfev = 0

    def full(x):
        nonlocal nfev
        nfev += 1
        f, g = fun(x)
        return f + l1 * np.abs(x[:n_weights]).sum(), np.asarray(g, dtype=np.float64)

    x = np.array(x0, dtype=np.float64)
    F, g = full(x)
    nit, status = 0, 1
    pg = _pseudo_gradient(x, g, l1, n_weights) if l1 else g
    pairs = []
    while True:
        if np.abs(pg).max(initial=0.0) <= gtol:
            status = 0
            break
        if nit >= maxiter:
            status = 1
            break
        d = -_two_loop(pg, pairs, precondition)
        if l1:
            # in the penalized coordinates keep the components that descend along
            # -pg (the unpenalized ones are plain L-BFGS: F is smooth in them)
            dw = d[:n_weights]
            dw[dw * pg[:n_weights] >= 0] = 0.0
        if not np.dot(pg, d) < 0:      # (only after rounding) restart as steepest descent
            pairs.clear()
            d = -pg if precondition is None else -precondition * pg
        if not pairs:   # a first step of length 1, as L-BFGS-B's: -pg has no scale
            d = d / np.linalg.norm(d)
        found = (_orthant_step(full, x, F, pg, d, n_weights, maxls) if l1
                 else _wolfe_step(full, x, F, g, d, maxls))
        if found is None:
            if pairs:   # as L-BFGS-B: drop the curvature pairs, retry steepest descent
                pairs.clear()
                continue
            status = 2
            break
        x_new, F_new, g_new = found
        s, y = x_new - x, g_new - g
        sy = np.dot(s, y)
        if sy > _EPS * np.dot(y, y):   # skip pairs without positive curvature
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > maxcor:
                pairs.pop(0)
        decrease = (F - F_new) / max(abs(F), abs(F_new), 1.0)
        x, F, g = x_new, F_new, g_new
        pg = _pseudo_gradient(x, g, l1, n_weights) if l1 else g
        nit += 1
        if callback is not None:
            try:
                callback(OptimizeResult(x=x, fun=F))
            except StopIteration:
                status = 99
                break
        if decrease <= ftol:
            status = 0
            break
    messages = {0: "CONVERGENCE", 1: "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
                2: "ABNORMAL: THE LINE SEARCH FOUND NO DECREASE",
                99: "`callback` raised `StopIteration`."}
    return OptimizeResult(x=x, fun=F, jac=pg, nit=nit, nfev=nfev, status=status,
                          success=status == 0, message=messages[status])
