"""Sums of the weighted loss and its gradient over a block of rows, from the
compiled loss kernels (placeholder until the one objective lands)."""
import numpy as np
import scipy.sparse as sp

from skce import losses
from skce._loss import LOSSES

_KIND = {info.kind: name for name, info in LOSSES.items()}


def block_loss_gradient(X, loss, sample_weight, theta, n_threads=None):
    """(sum_i s_i * scale * loss_i, its gradient w.r.t. theta = [W.ravel(), b])."""
    d, K = X.shape[1], loss.n_outputs
    P = d * K
    W = theta[:P].reshape(d, K).astype(X.dtype, copy=False)
    b = theta[P:].astype(X.dtype, copy=False)
    Z = np.asarray(X @ W) + b
    sw = sample_weight
    kind = loss.kind
    if kind == LOSSES["cross_entropy"].kind:
        f, G = losses.cross_entropy(Z, loss.y, reduction="sum", sample_weight=sw,
                                    label_smoothing=loss.label_smoothing,
                                    n_threads=n_threads, return_grad=True)
    elif kind == LOSSES["binary_cross_entropy"].kind:
        w = None if sw is None else sw.astype(X.dtype)[:, None]
        f, G = losses.binary_cross_entropy_with_logits(Z, loss.Y, weight=w, reduction="sum",
                                                       n_threads=n_threads, return_grad=True)
    elif kind == LOSSES["squared_error"].kind:
        f, G = losses.mse_loss(Z, loss.Y, reduction="sum", sample_weight=sw,
                               n_threads=n_threads, return_grad=True)
    elif kind == LOSSES["huber"].kind:
        f, G = losses.huber_loss(Z, loss.Y, delta=loss.delta, reduction="sum", sample_weight=sw,
                                 n_threads=n_threads, return_grad=True)
    elif kind == LOSSES["hinge"].kind:
        f, G = losses.hinge_loss(Z, loss.Y, squared=loss.squared, margin=loss.margin,
                                 reduction="sum", sample_weight=sw, n_threads=n_threads,
                                 return_grad=True)
    else:
        f, G = losses.multi_margin_loss(Z, loss.y, p=2 if loss.squared else 1,
                                        margin=loss.margin, kind="crammer_singer",
                                        reduction="sum", sample_weight=sw,
                                        n_threads=n_threads, return_grad=True)
    grad = np.empty(P + K, dtype=np.float64)
    gW = X.T @ G
    grad[:P] = np.asarray(gW.toarray() if sp.issparse(gW) else gW).ravel()
    grad[P:] = G.sum(axis=0, dtype=np.float64)
    return loss.scale * float(f), loss.scale * grad
