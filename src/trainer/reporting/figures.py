"""Draw a finished run's figures: learning curves, the LR schedule and the objective's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainer.data.base import DataModule
from trainer.engine import Trainer, TrainingModule
from trainer.engine.callbacks import LearningRateMonitor


def python_scalar(value: Any) -> Any:
    """A numpy scalar as the plain Python value (for JSON and labels)."""
    return value.item() if isinstance(value, np.generic) else value


def make_figures(
    run_dir: Path, trainer: Trainer, module: TrainingModule, datamodule: DataModule
) -> list[Path]:
    """Draw every figure that fits the run into ``run_dir/figures`` and return their paths."""
    from trainer import plots  # matplotlib loads only when a run draws figures

    directory = run_dir / "figures"
    directory.mkdir(parents=True, exist_ok=True)
    made: list[Path | None] = [plots.learning_curves(trainer.history, directory / "learning_curves.png")]
    lr_monitor = next((cb for cb in trainer.callbacks if isinstance(cb, LearningRateMonitor)), None)
    if lr_monitor is not None:
        made.append(plots.learning_rate(lr_monitor.history, directory / "learning_rate.png"))
    if datamodule.test_dataloader() is not None:
        predictions = trainer.predict(module, datamodule).numpy()
        # limit_predict_batches (fast_dev_run) may predict only the first rows: keep their labels.
        labels = datamodule.labels("test").numpy()[: len(predictions)]
        classes = [python_scalar(c) for c in datamodule.classes_]
        made.extend(module.objective.figures(predictions, labels, classes=classes, directory=directory))
    return [p for p in made if p is not None]
