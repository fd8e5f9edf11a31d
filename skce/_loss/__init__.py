"""Loss layer: the compiled loss wrappers (`_softmax`, `_elementwise`,
`_margin`, `_ntxent`), the one loss registry and the inverse links.

The public functional API built on these is `skce.losses`."""
from skce._loss._link import decision_to_proba
from skce._loss._registry import LOSSES, LossInfo

__all__ = ["LOSSES", "LossInfo", "decision_to_proba"]
