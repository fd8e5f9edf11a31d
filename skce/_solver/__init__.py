"""Solver layer: the one training loop of every estimator (`_train`) over the
compiled epoch (`_epoch`, no GIL, src/solver/ numerics)."""
from skce._solver._train import (EpochSettings, LossSpec, OptimizerSpec, SolverState,
                                 TrainResult, TrainingDiverged, penalty_value, train)

__all__ = ["EpochSettings", "LossSpec", "OptimizerSpec", "SolverState", "TrainResult",
           "TrainingDiverged", "penalty_value", "train"]
