"""The one table of the losses the solver core trains.

Each row names a C loss kind (its code in the one numbering of
src/loss/skce_loss.h, read from the loss wrappers), how targets
are encoded, the inverse link of the predictions, the factor every row loss
is multiplied by (1/2 for the squared error, as SGDRegressor's) and the
solvers that accept it.  An estimator builds its `LossSpec` from a row; a
new loss is one row here plus its C kernel."""
from dataclasses import dataclass

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
        need a smooth loss."""
        return ("sgd", "adam", "rmsprop", "adagrad") + (
            ("lbfgs", "svrg") if self.smooth else ())


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
