"""Exceptions raised by skce's estimators."""

__all__ = ["TrainingDiverged", "DataCopyWarning", "ForkWarning"]


class TrainingDiverged(FloatingPointError, ValueError):
    """The training loss became NaN or infinite; the model was not changed."""


class DataCopyWarning(UserWarning):
    """An input could not be read in place (negative or odd strides,
    misaligned data) and a large copy of it was made."""


class ForkWarning(RuntimeWarning):
    """skce runs single-threaded in this process: it was forked after skce
    had started OpenMP threads."""
