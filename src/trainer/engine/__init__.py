"""The training engine: one explicit loop, callbacks, devices and precision, checkpoints."""

from trainer.engine.module import SchedulerSpec, TrainingModule, TrainingPlan
from trainer.engine.trainer import Trainer

__all__ = ["SchedulerSpec", "Trainer", "TrainingModule", "TrainingPlan"]
