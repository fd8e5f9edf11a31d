"""The one table of the losses the solver core trains.

Each row names a C loss kind (its code in the one numbering of
src/loss/skce_loss.h, read from the loss wrappers), how targets
are encoded, the inverse link of the predictions, the factor every row loss
is multiplied by (1/2 for the squared error, as SGDRegressor's) and the
solvers that accept it.  An estimator builds its `LossSpec` from a row; a
new loss is one row here plus its C kernel."""
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from skce._loss import _elementwise, _margin, _softmax


@dataclass(frozen=True)
class LossInfo:
    name: str
    kind: int            # skce_loss_kind code (skce_loss_rows trains it)
    target: str          # "index": int64 class indices y (n,); "dense": Y (n, n_outputs)
    link: str            # "softmax", "sigmoid" or "identity"
    scale: float = 1.0   # multiplies every row loss
    smooth: bool = True  # differentiable everywhere (full-batch quasi-Newton applies)
    # bound on the spectral norm of the Hessian of scale * loss_i w.r.t. the
    # row's scores Z_i (what SVRG's step size is derived from); None when not smooth
    curvature: float = None

    @property
    def solvers(self):
        """The solvers that train it: every minibatch one; L-BFGS and SVRG
        need a smooth loss; Newton's method (one output only) the elementwise
        losses `row_hessian` knows."""
        return ("sgd", "adam", "rmsprop", "adagrad") + (
            ("lbfgs", "svrg") if self.smooth else ()) + (
            ("newton-cholesky",) if self.smooth and self.target == "dense" else ())


def row_hessian(spec, z, y):
    """scale * d^2 loss_i / dz^2 of each row of a one-output elementwise loss
    (LossSpec `spec`) at scores z (n,), targets y (n,), float64: what
    Newton's method weighs the rows of X by.  The squared hinge and Huber
    are twice differentiable except on a set of measure zero; there their
    generalized Hessian (the indicator of the active rows) is used, as
    liblinear's trust-region Newton method does."""
    z = np.asarray(z, dtype=np.float64)
    if spec.kind == _elementwise.BCE:
        return expit(z) * expit(-z)
    if spec.kind == _elementwise.MSE:
        return np.full_like(z, 2.0 * spec.scale)
    if spec.kind == _elementwise.HUBER:
        return spec.scale * (np.abs(z - y) <= spec.delta)
    if spec.kind == _elementwise.HINGE and spec.squared:
        return 2.0 * spec.scale * (spec.margin - y * z > 0)
    raise ValueError(f"no Hessian for loss kind {spec.kind}")


LOSSES = {info.name: info for info in [
    # softmax: the Hessian diag(p) - p pᵀ has norm <= 1/2; sigmoid: p (1 - p) <= 1/4
    LossInfo("cross_entropy", _softmax.CE_INDEX, "index", "softmax", curvature=0.5),
    LossInfo("binary_cross_entropy", _elementwise.BCE, "dense", "sigmoid", curvature=0.25),
    # (y - z)^2 / 2 and Huber: 1; (margin - y z)_+^2 with y = +-1: 2
    LossInfo("squared_error", _elementwise.MSE, "dense", "identity", scale=0.5, curvature=1.0),
    LossInfo("huber", _elementwise.HUBER, "dense", "identity", curvature=1.0),
    LossInfo("hinge", _elementwise.HINGE, "dense", "identity", smooth=False),
    LossInfo("squared_hinge", _elementwise.HINGE, "dense", "identity", curvature=2.0),
    LossInfo("multi_margin", _margin.MULTI_MARGIN, "index", "identity", smooth=False),
    # the mean over j != t (torch's) of (margin + z_j - z_t)_+^2: the terms' Hessians
    # 2 (e_j - e_t)(e_j - e_t)ᵀ add up to norm <= 2 K; Crammer-Singer's max over j
    # is not differentiable where two j tie (svrg refuses it, see check_svrg)
    LossInfo("squared_multi_margin", _margin.MULTI_MARGIN, "index", "identity",
             curvature=2.0),
]}
