"""Solver layer: the one training loop of every estimator (`_train`) over the
compiled epoch (`_epoch`, no GIL, src/solver/ numerics)."""
from skce._solver._train import (LossSpec, OptimizerSpec, SolverState, TrainResult,
                                 TrainingDiverged, epoch_settings, penalty_value, train)

__all__ = ["LossSpec", "OptimizerSpec", "SolverState", "TrainResult", "TrainingDiverged",
           "epoch_settings", "penalty_value", "train"]
