"""Hyperparameter sweeps: Optuna studies whose trials call the same ``train()`` as ``trainer train``."""

from trainer.sweep.command import multirun_command, sweep_command
from trainer.sweep.runner import StudyResult
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import Param, SearchSpace, parse_space
from trainer.sweep.stages import run_sweep

__all__ = [
    "Param",
    "SearchSpace",
    "StudyResult",
    "SweepSettings",
    "multirun_command",
    "parse_space",
    "run_sweep",
    "sweep_command",
]
