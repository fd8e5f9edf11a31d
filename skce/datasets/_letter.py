"""UCI Letter Recognition, bundled as ``letter.npz`` (150 KB).

Source: D. Slate, "Letter Recognition", UCI Machine Learning Repository,
https://doi.org/10.24432/C5ZP40, licence CC BY 4.0.  Re-encoded from the
LIBSVM data sets' ``letter.scale`` (the same 20,000 rows, in the same order,
scaled to [-1, 1] by ``x / 7.5 - 1``): the 16 features are stored as the
UCI integers 0..15 (uint8; the scaling is undone exactly, to 3e-7, the
precision of the text file) and the labels as 0..25 for "A".."Z".
"""
from importlib import resources

import numpy as np

TARGET_NAMES = np.array([chr(ord("A") + i) for i in range(26)])
FEATURE_NAMES = ["x-box", "y-box", "width", "high", "onpix", "x-bar", "y-bar", "x2bar",
                 "y2bar", "xybar", "x2ybr", "xy2br", "x-ege", "xegvy", "y-ege", "yegvx"]


def load_letter(*, return_X_y=False, scaled=False, dtype=np.float64):
    """Load UCI Letter Recognition: 20,000 rows, 16 features, 26 classes.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a dict.
    scaled : bool, default=False
        Features scaled to [-1, 1] as LIBSVM's ``letter.scale`` (``x / 7.5 - 1``)
        instead of the UCI integers 0..15.
    dtype : numpy dtype, default=np.float64
        dtype of X.

    Returns
    -------
    dict or tuple
        ``(X, y)`` with X of shape (20000, 16) and y the integer labels 0..25
        (``target_names[y]`` are the letters), or a dict with keys ``data``,
        ``target``, ``target_names``, ``feature_names`` and ``DESCR``.
    """
    with resources.files(__package__).joinpath("letter.npz").open("rb") as f, \
            np.load(f, allow_pickle=False) as npz:
        X = npz["X"].astype(dtype)
        y = npz["y"].astype(np.int64)
    if scaled:
        X = X / dtype(7.5) - dtype(1)
    if return_X_y:
        return X, y
    return {"data": X, "target": y, "target_names": TARGET_NAMES.copy(),
            "feature_names": list(FEATURE_NAMES), "DESCR": __doc__}
