"""Objectives: the loss, the prediction and the metrics of each kind of task."""

from trainer.tasks.base import Objective
from trainer.tasks.binary import BinaryObjective
from trainer.tasks.multiclass import MulticlassObjective
from trainer.tasks.reconstruction import ReconstructionObjective
from trainer.tasks.regression import RegressionObjective

OBJECTIVES = ("binary", "multiclass", "regression", "reconstruction")

__all__ = [
    "OBJECTIVES",
    "BinaryObjective",
    "MulticlassObjective",
    "Objective",
    "ReconstructionObjective",
    "RegressionObjective",
]
