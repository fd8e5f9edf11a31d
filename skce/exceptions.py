"""Exceptions raised by skce's estimators."""

__all__ = ["TrainingDiverged"]


class TrainingDiverged(FloatingPointError, ValueError):
    """The training loss became NaN or infinite; the model was not changed."""
