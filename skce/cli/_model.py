"""Model files: skops archives of {"model": estimator, "meta": metadata}.

skops (https://skops.readthedocs.io) stores objects without pickle: loading
only rebuilds types on an allow list, so a model file cannot run code.  The
types skops does not trust by default must all be skce's own, listed in
TRUSTED; anything else in a file is refused before it is loaded.
"""
import zipfile

from skce.cli._data import CLIError

# Bumped when the layout of "meta" or of the saved estimators changes in a way
# older skce versions cannot read.
FORMAT_VERSION = 1
TRUSTED = {
    "skce._solver._train.SolverState",
    "skce.linear_model._softmax.SoftmaxClassifier",
    "skce.linear_model._svm.LinearSVM",
    "skce.linear_model._regressor.LinearRegressor",
}


def require_skops():
    try:
        import skops.io as sio
    except ImportError:
        raise CLIError('model files need skops: pip install "skce[cli]"') from None
    return sio


def save_model(path, model, meta):
    """Write ``model`` (an estimator or Pipeline) and the dict ``meta`` to ``path``.

    Parameters
    ----------
    path : str or Path
    model : estimator
    meta : dict of str, int, float, list and None values
    """
    sio = require_skops()
    try:
        sio.dump({"model": model, "meta": {**meta, "format_version": FORMAT_VERSION}}, path)
    except OSError as exc:
        raise CLIError(f"{path}: cannot write the model ({exc})") from None


def load_model(path):
    """Read a file written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    model : estimator
    meta : dict
    """
    import skce

    sio = require_skops()
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CLIError(f"{path}: not a skops model file written by `skce train` ({exc})") \
            from None
    unknown = untrusted - TRUSTED
    if unknown:
        raise CLIError(f"{path}: refusing to load types skce does not trust: "
                       f"{sorted(unknown)}")
    try:
        obj = sio.load(path, trusted=sorted(untrusted))
    except Exception as exc:  # skops raises many kinds for files of other versions
        raise CLIError(f"{path}: cannot load the model ({type(exc).__name__}: {exc}); was it "
                       f"written by another skce or scikit-learn version?") from None
    if not (isinstance(obj, dict) and {"model", "meta"} <= set(obj)):
        raise CLIError(f"{path}: a skops file, but not one written by `skce train`")
    meta = obj["meta"]
    if meta.get("format_version") != FORMAT_VERSION:
        raise CLIError(f"{path}: written by skce {meta.get('skce_version')} (model format "
                       f"{meta.get('format_version')}); this skce {skce.__version__} reads "
                       f"format {FORMAT_VERSION}: retrain it with this version")
    return obj["model"], meta
