"""skce: fast, exact cross-entropy, hinge and squared-error losses on OpenMP C
kernels, and scikit-learn estimators trained by SGD or Adam."""
import os as _os

# libgomp spins ~0.3 ms in every idle thread between parallel regions.  A
# training epoch runs a few short regions per minibatch, and on a machine
# whose cores are busy the spinning threads starve the working one: measured
# 0.06 s -> 3.4 s per epoch with 2 threads.  Sleeping at once ("passive")
# costs a futex wake-up per region instead: a batch-4096 epoch on 2 threads
# took 122 ms, no faster than on one.  A short spin (10,000 iterations, tens
# of microseconds) bridges the gaps between the regions of a batch: 75 ms,
# and 194 ms (passive: 134 ms) with another process busy on one of the two
# cores.  The OpenMP runtime reads its settings once, when our extensions load
# it just below, so unless the user chose a policy, load it with that spin
# count, then put the environment back so that no other library is affected.
_choose_policy = not any(k in _os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
if _choose_policy:
    _os.environ["GOMP_SPINCOUNT"] = "10000"
try:
    from skce import _openmp_helpers  # noqa: F401  (loads the OpenMP runtime)
finally:
    if _choose_policy:
        del _os.environ["GOMP_SPINCOUNT"]

# Lazy attributes (PEP 562): `import skce` loads neither scikit-learn nor the
# estimators until they are used.
_LAZY = {
    "losses": "skce.losses",
    "show_config": "skce._config",
    "SoftmaxClassifier": "skce.linear_model",
    "LinearSVM": "skce.linear_model",
    "LinearRegressor": "skce.linear_model",
}
__all__ = ["losses", "show_config", "SoftmaxClassifier", "LinearSVM", "LinearRegressor",
           "__version__"]
from skce._build_info import VERSION as __version__  # noqa: E402


def __getattr__(name):
    import importlib

    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "losses" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skce' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
