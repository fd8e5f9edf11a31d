"""The one table of the losses the solver core trains.

Each row names a C loss block of the compiled epoch (its code), how targets
are encoded, the inverse link of the predictions, the factor every row loss
is multiplied by (1/2 for the squared error, as SGDRegressor's) and the
solvers that accept it.  An estimator builds its `LossSpec` from a row; a
new loss is one row here plus its C kernel."""
from dataclasses import dataclass

from skce._solver import _epoch


@dataclass(frozen=True)
class LossInfo:
    name: str
    kind: int            # code of the loss block in the compiled epoch
    target: str          # "index": int64 class indices y (n,); "dense": Y (n, n_outputs)
    link: str            # "softmax", "sigmoid" or "identity"
    scale: float = 1.0   # multiplies every row loss
    smooth: bool = True  # differentiable everywhere (full-batch quasi-Newton applies)

    @property
    def solvers(self):
        """The solvers that train it: L-BFGS needs a smooth loss."""
        return ("sgd", "adam", "lbfgs") if self.smooth else ("sgd", "adam")


LOSSES = {info.name: info for info in [
    LossInfo("cross_entropy", _epoch.CROSS_ENTROPY, "index", "softmax"),
    LossInfo("binary_cross_entropy", _epoch.BCE, "dense", "sigmoid"),
    LossInfo("squared_error", _epoch.SQUARED, "dense", "identity", scale=0.5),
    LossInfo("huber", _epoch.HUBER, "dense", "identity"),
    LossInfo("hinge", _epoch.HINGE, "dense", "identity", smooth=False),
    LossInfo("squared_hinge", _epoch.HINGE, "dense", "identity"),
    LossInfo("multi_margin", _epoch.MULTI_MARGIN, "index", "identity", smooth=False),
    LossInfo("squared_multi_margin", _epoch.MULTI_MARGIN, "index", "identity"),
]}
