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

    @property
    def solvers(self):
        """The solvers that train it: every minibatch one; L-BFGS needs a smooth loss."""
        return ("sgd", "adam", "rmsprop", "adagrad") + (("lbfgs",) if self.smooth else ())


LOSSES = {info.name: info for info in [
    LossInfo("cross_entropy", _softmax.CE_INDEX, "index", "softmax"),
    LossInfo("binary_cross_entropy", _elementwise.BCE, "dense", "sigmoid"),
    LossInfo("squared_error", _elementwise.MSE, "dense", "identity", scale=0.5),
    LossInfo("huber", _elementwise.HUBER, "dense", "identity"),
    LossInfo("hinge", _elementwise.HINGE, "dense", "identity", smooth=False),
    LossInfo("squared_hinge", _elementwise.HINGE, "dense", "identity"),
    LossInfo("multi_margin", _margin.MULTI_MARGIN, "index", "identity", smooth=False),
    LossInfo("squared_multi_margin", _margin.MULTI_MARGIN, "index", "identity"),
]}
