"""Inverse links: decision function -> class probabilities."""
import numpy as np
from scipy.special import expit, log_expit


def decision_to_proba(z, log=False):
    """Probabilities (or log-probabilities) of the classes for decisions z.

    z of shape (n,) is one logit per sample (binary: columns [P(0), P(1)]);
    z of shape (n, K) gets a max-subtracted softmax over K.  Finite for any
    finite z: the binary case uses expit(-z), not 1 - expit(z)."""
    from skce import losses   # the compiled softmax; imported late (skce.losses imports us)

    z = np.asarray(z)
    if z.ndim == 1:
        f = log_expit if log else expit
        return np.column_stack([f(-z), f(z)])
    return losses.log_softmax(z, dim=1) if log else losses.softmax(z, dim=1)
