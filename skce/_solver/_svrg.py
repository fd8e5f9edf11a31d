"""solver="svrg": minibatch SVRG, a minibatch solver that converges to the optimum.

With a constant step, SGD and Adam stop short of the optimum: the
minibatch gradient's noise does not vanish there.  SVRG (Johnson & Zhang,
2013, "Accelerating stochastic gradient descent using predictive variance
reduction") removes it: every epoch starts at a snapshot w~ with its full
loss gradient mu, and each step uses

    g_B(theta) - g_B(w~) + mu

(g_B: the loss gradient of the minibatch B), unbiased and of a variance
that vanishes as theta and w~ approach the optimum, so a constant step
converges.  The steps are plain SGD (no momentum); L2 enters exactly in the
gradient at theta; L1 / elastic-net is the soft-threshold step of the
minibatch loop, which makes this Prox-SVRG (Xiao & Zhang, 2014).

Here the snapshot keeps dloss/dZ of every row (n_samples x n_outputs, X's
dtype), filled by the full-gradient pass (`LinearObjective.loss_gradient_rows`),
so that g_B(w~) costs no second pass over the batch: the epoch subtracts
the rows' snapshot values from G before the one product dW = X_bᵀ G
(skce._solver._epoch, `EpochSettings.set_snapshot`).  An epoch is thus one
minibatch epoch plus one full-gradient pass, and that pass gives the exact
objective and gradient at each snapshot for free: they are the loss curve,
the stopping rule (max-norm of the gradient <= tol, as LogisticRegression's
lbfgs; with L1 the minimum-norm subgradient) and the safeguard (an epoch
that raises the objective, or overflows, is undone and the step halved).

The first step is 1 / (c L_B) with L_B the expected smoothness of a minibatch of
B rows sampled without replacement (Gower et al., 2019, "SGD: general
analysis and improved rates", Prop. 3.8),

    L_B = (n - B) / (B (n - 1)) L_max + n (B - 1) / (B (n - 1)) L_full,

L_max the largest row smoothness (curvature bound of the loss times
||x_i||^2 + 1 with an intercept, times the row's weight over the mean
weight), L_full that of the whole objective (the curvature bound times the
largest eigenvalue of the weighted second moment of the rows, by Lanczos
on a subsample), plus the L2 strength.  That bound is loose for most
data (see STEP_FACTOR for c): the step doubles after each epoch that
lowered the objective, until one raises it.
"""
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from skce._loss import LOSSES
from skce._solver._objective import LinearObjective, penalty

__all__ = ["Snapshot", "check_svrg", "smoothness", "STEP_FACTOR"]

# c of the first step 1 / (c L_B).  The bound is safe but loose for the
# cross-entropy (its curvature 1/2 is reached only at p = (1/2, 1/2)): the
# best fixed c measured was 1/16 on letter (9 epochs to 1e-4 against 53
# at c = 1/2, batch 64), 1/16 to 1/32 on a9a, but 1/4 to 1 on the
# synthetic 240,000 x 100 set, where 1/16 needed halvings.  So c = 1, and
# the step doubles after each epoch that lowered the objective until one
# raises it (undone, the step halved, no more doubling): on letter 11
# epochs to 1e-4, on the synthetic set 8 (best fixed c: 9 and 11).
STEP_FACTOR = 1.0
# rows and relative tolerance of the top eigenvalue for L_full: a subsample
# estimates the second moment to a few percent (on the synthetic 240,000 x
# 100 set 10,000 rows gave 3% more than 20,000, in 0.03 s instead of 0.1;
# the step's doubling covers the rest); 20 power iterations were 3.5% low
# on a 12-feature regression, Lanczos converges to the tolerance
EIGEN_ROWS, EIGEN_TOL = 10_000, 1e-3


def check_svrg(loss):
    """ValueError unless SVRG applies to `loss` (a LossSpec): its step and
    convergence need a smooth loss (L1 is a proximal step).  Measured: on
    Crammer-Singer's squared loss (not differentiable where two classes tie
    for the largest margin) it stalled 1.6% above the optimum on wine."""
    info = LOSSES[loss.name]
    if "svrg" not in info.solvers or loss.crammer_singer:
        what = "the Crammer-Singer loss" if loss.crammer_singer else repr(info.name)
        hint = " (e.g. squared_hinge with multi_class='ovr')" if "margin" in info.name or \
            "hinge" in info.name else ""
        raise ValueError(
            f"solver='svrg' needs a smooth loss; {what} is not differentiable. "
            f"Use a smooth loss{hint}, solver='lbfgs' or solver='sgd' / 'adam'")


def _row_norms(X):
    """||x_i||^2 (float64) of every row of dense or CSR X."""
    if sp.issparse(X):
        sq = np.asarray(X.data, dtype=np.float64) ** 2
        return np.add.reduceat(np.append(sq, 0.0), X.indptr[:-1]) * (np.diff(X.indptr) > 0)
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def _top_eigenvalue(X, weights, fit_intercept, rng):
    """Largest eigenvalue of sum_i w_i x~_i x~_iᵀ / sum_i w_i (x~_i = [x_i, 1]
    with an intercept), by Lanczos (scipy's eigsh, products with X only) on
    a subsample of the rows."""
    n, d = X.shape
    if n > EIGEN_ROWS:
        rows = np.sort(rng.choice(n, EIGEN_ROWS, replace=False))
        X, weights = X[rows], weights[rows]
    w = weights / weights.sum()
    m = d + 1 if fit_intercept else d

    def matvec(v):
        v = np.ravel(v)
        z = np.asarray(X @ v[:d], dtype=np.float64).ravel()
        if fit_intercept:
            z += v[d]
        z *= w
        u = np.asarray(X.T @ z, dtype=np.float64).ravel()
        return np.append(u, z.sum()) if fit_intercept else u
    if m <= 2:   # (eigsh needs k < m)
        M = np.column_stack([matvec(e) for e in np.eye(m)])
        return float(np.linalg.eigvalsh(M)[-1])
    operator = LinearOperator((m, m), matvec=matvec, dtype=np.float64)
    return float(eigsh(operator, k=1, which="LA", tol=EIGEN_TOL,
                       v0=rng.standard_normal(m), return_eigenvectors=False)[0])


def smoothness(X, curvature, sample_weight, fit_intercept, batch_size, l2):
    """L_B of the module doc: the smoothness constant of a minibatch of
    batch_size rows (float).

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    curvature : float
        Bound on the Hessian of the row loss w.r.t. its scores (LossInfo.curvature).
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept : bool
    batch_size : int
    l2 : float
        The L2 strength (its curvature adds to every row's).

    Returns
    -------
    L : float
    """
    n = X.shape[0]
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    relative = weights / weights.mean()
    L_max = curvature * float(np.max(relative * (_row_norms(X) + fit_intercept)))
    # fixed seed: the step (and so the fit) must not depend on the caller's random state
    L_full = curvature * _top_eigenvalue(X, weights, fit_intercept, np.random.default_rng(0))
    B = min(max(int(batch_size), 1), n)
    if n > 1:
        L = (n - B) / (B * (n - 1)) * L_max + n * (B - 1) / (B * (n - 1)) * L_full
    else:
        L = L_max
    return L + l2


class Snapshot:
    """SVRG's snapshot w~ of the parameters: its full loss gradient `mu`
    (the epoch's layout, (d K + K,), X's dtype), the scores' gradient of
    every row `G` (n_samples, K), and there the objective F and the
    optimality measure (max-norm of the gradient of F; with L1 that of the
    minimum-norm subgradient).

    Parameters
    ----------
    X, loss, sample_weight, fit_intercept, n_threads :
        The problem, as `train` gets it.
    l1, l2 : float
        Penalty strengths (OptimizerSpec.l1_l2()).
    """

    def __init__(self, X, loss, l1, l2, *, sample_weight=None, fit_intercept=True,
                 n_threads=1):
        self.objective = LinearObjective(X, loss, l1=l1, l2=l2, sample_weight=sample_weight,
                                         fit_intercept=fit_intercept, n_threads=n_threads)
        self.l1, self.l2 = float(l1), float(l2)
        self.fit_intercept = bool(fit_intercept)
        K = loss.n_outputs
        self.P = X.shape[1] * K
        self.G = np.empty((X.shape[0], K), dtype=X.dtype)
        self.mu = np.zeros(self.P + K, dtype=X.dtype)
        self.theta = np.zeros(self.P + K, dtype=X.dtype)
        # EpochSettings.set_snapshot's scale: the objective's G rows are
        # scale * s_i * dloss_i / sum_i s_i, the epoch's grad_scale * s_i * dloss_i
        self.scale = self.objective.weight_sum / float(loss.scale)
        self.value = np.inf
        self.optimality = np.inf
        # rounding of F, relative (a sum of n row losses of X's precision): an
        # epoch that raised F by less is not told from one that lowered it
        # (refusing those would halve the step for nothing at the optimum,
        # and stall the gradient's convergence there)
        self.rounding = 8 * float(np.finfo(X.dtype).eps) * np.sqrt(X.shape[0])

    def refresh(self, theta):
        """Make theta (the epoch's layout [W.ravel(), b]) the snapshot: one
        full-gradient pass.  Returns F(theta)."""
        P = self.P
        self.theta[:] = theta
        W = np.asarray(theta[:P], dtype=np.float64)
        packed = self.objective.pack(W, np.asarray(theta[P:], dtype=np.float64))
        with np.errstate(over="ignore", invalid="ignore"):   # overflow: reported as F = inf
            loss, grad = self.objective.loss_gradient_rows(packed, self.G)
            self.value = loss + penalty(W, self.l1, self.l2)
        self.mu[:P] = grad[:P]
        if self.fit_intercept:
            self.mu[P:] = grad[P:]
        # the optimality of F = loss + l2/2 ||W||^2 + l1 ||W||_1 (b not penalized)
        gW = grad[:P] + self.l2 * W
        if self.l1:
            gW = np.where(W != 0, gW + self.l1 * np.sign(W),
                          np.sign(gW) * np.maximum(np.abs(gW) - self.l1, 0.0))
        self.optimality = max(float(np.max(np.abs(gW), initial=0.0)),
                              float(np.max(np.abs(grad[P:]), initial=0.0)))
        if not np.isfinite(self.value) or not np.isfinite(self.optimality):
            self.value = self.optimality = np.inf
        return self.value

    def advance(self, theta, finite=True):
        """After an epoch: make theta the snapshot if its objective is no
        larger than the snapshot's (up to `rounding`), else put the snapshot back into theta
        (in place) and recompute its gradients, which the pass at theta
        overwrote (an extra pass only when an epoch fails).  finite=False:
        the epoch overflowed, theta is garbage.  Returns whether theta was
        accepted."""
        previous, value = self.theta.copy(), self.value
        if finite and self.refresh(theta) <= value + self.rounding * abs(value):
            return True
        theta[:] = previous
        self.refresh(theta)
        return False
