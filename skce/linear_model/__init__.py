"""Linear estimators trained on skce's compiled solver core."""
from skce.linear_model._regressor import LinearRegressor
from skce.linear_model._softmax import SoftmaxClassifier
from skce.linear_model._svm import LinearSVM

__all__ = ["SoftmaxClassifier", "LinearSVM", "LinearRegressor"]
