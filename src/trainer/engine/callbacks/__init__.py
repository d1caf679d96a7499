"""Callbacks observe the loop and signal (``trainer.should_stop``); they never run it."""

from trainer.engine.callbacks.base import HOOKS, Callback
from trainer.engine.callbacks.early_stopping import EarlyStopping
from trainer.engine.callbacks.health import HealthMonitor
from trainer.engine.callbacks.lr_monitor import LearningRateMonitor
from trainer.engine.callbacks.model_checkpoint import ModelCheckpoint
from trainer.engine.callbacks.progress import ProgressBar

__all__ = [
    "HOOKS",
    "Callback",
    "EarlyStopping",
    "HealthMonitor",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ProgressBar",
]
