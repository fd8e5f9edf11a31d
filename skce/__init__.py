"""skce: fast, exact cross-entropy, hinge and squared-error losses on OpenMP C
kernels, and scikit-learn estimators trained by SGD or Adam."""
from skce import losses
from skce._build_info import VERSION as __version__
from skce._config import show_config
from skce.linear_model import LinearRegressor, LinearSVM, SoftmaxClassifier

__all__ = ["losses", "show_config", "SoftmaxClassifier", "LinearSVM", "LinearRegressor", "__version__"]
