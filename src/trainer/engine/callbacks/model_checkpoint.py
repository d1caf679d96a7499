"""Save the best ``save_top_k`` checkpoints by a monitored metric, and ``last.ckpt``."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.engine.callbacks.base import Callback
from trainer.engine.callbacks.monitoring import (
    AUTO,
    check_mode,
    is_improvement,
    missing_metric_message,
    resolve_monitor,
)
from trainer.errors import ConfigError

if TYPE_CHECKING:
    from trainer.engine.module import TrainingModule
    from trainer.engine.trainer import Trainer

log = logging.getLogger(__name__)


def _slug(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", metric)


class ModelCheckpoint(Callback):
    """Write self-contained checkpoints at the end of training epochs.

    Args:
        dirpath: folder for the files; ``None`` puts them in ``<run dir>/checkpoints``.
        monitor: metric that ranks checkpoints; ``auto`` takes the objective's default
            (see :class:`EarlyStopping`); ``None`` keeps only ``last.ckpt``.
        mode: ``min``, ``max``, or ``auto`` (the metric's direction, from the objective).
        save_top_k: how many of the best to keep (``-1`` all, ``0`` none).
        save_last: also keep ``last.ckpt``, the one to resume from.
        every_n_epochs: save every n-th epoch only.
    """

    def __init__(
        self,
        *,
        dirpath: str | None = None,
        monitor: str | None = AUTO,
        mode: str = AUTO,
        save_top_k: int = 1,
        save_last: bool = True,
        every_n_epochs: int = 1,
    ) -> None:
        check_mode(mode, "callbacks.model_checkpoint")
        if save_top_k < -1:
            raise ConfigError(
                f"callbacks.model_checkpoint.save_top_k={save_top_k}; use -1 (all), 0 (none) or more."
            )
        if every_n_epochs < 1:
            raise ConfigError(
                f"callbacks.model_checkpoint.every_n_epochs={every_n_epochs} must be 1 or more."
            )
        self.dirpath = Path(dirpath) if dirpath else None
        # A named metric gets its direction now (decide() works before a fit); auto waits for it.
        self.monitor: str | None = monitor
        self.mode = mode
        if monitor is not None:
            self.monitor, self.mode = resolve_monitor(monitor, mode)
        self.save_top_k = save_top_k
        self.save_last = save_last
        self.every_n_epochs = every_n_epochs
        self.best_k: dict[str, float] = {}  # path -> score
        self.best_model_path = ""
        self.best_model_score: float | None = None
        self.last_model_path = ""

    def _directory(self, trainer: Trainer) -> Path:
        directory = self.dirpath or Path(trainer.default_root_dir) / "checkpoints"
        if trainer.is_global_zero:  # the other processes of a DDP run write nothing
            directory.mkdir(parents=True, exist_ok=True)
        return directory

    def _worst(self) -> tuple[str, float] | None:
        if not self.best_k:
            return None
        pick = max if self.mode == "min" else min
        path = pick(self.best_k, key=self.best_k.__getitem__)
        return path, self.best_k[path]

    def wants(self, score: float) -> bool:
        """Pure decision: does ``score`` earn a place among the top k?"""
        if self.save_top_k == 0 or not math.isfinite(score):
            return False
        if self.save_top_k == -1 or len(self.best_k) < self.save_top_k:
            return True
        worst = self._worst()
        return worst is not None and is_improvement(score, worst[1], mode=self.mode)

    def on_fit_start(self, trainer: Trainer, module: TrainingModule) -> None:
        if self.monitor is not None:
            self.monitor, self.mode = resolve_monitor(self.monitor, self.mode, module.objective)

    def on_train_epoch_end(self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]) -> None:
        if trainer.fast_dev_run or trainer.current_epoch % self.every_n_epochs != 0:
            return
        directory = self._directory(trainer)
        if self.monitor is not None and self.save_top_k != 0:
            self._save_top_k(trainer, directory, metrics)
        if self.save_last:
            self.write_last(trainer)

    def write_last(self, trainer: Trainer) -> Path:
        """Save ``last.ckpt``, the file to resume from; the Trainer also calls it within epochs."""
        last = self._directory(trainer) / "last.ckpt"
        # Recorded first, so the checkpoint's own callback state names the file it is in.
        self.last_model_path = str(last)
        return trainer.save_checkpoint(last)

    def _save_top_k(self, trainer: Trainer, directory: Path, metrics: dict[str, float]) -> None:
        assert self.monitor is not None
        if self.monitor not in metrics:
            if any(key.startswith("val/") for key in metrics) or not self.monitor.startswith("val/"):
                raise ConfigError(missing_metric_message(self.monitor, metrics, "callbacks.model_checkpoint"))
            return  # no validation this epoch (check_val_every_n_epoch)
        score = float(metrics[self.monitor])
        if not self.wants(score):
            return
        # No "=" in the name (Lightning uses it): the path goes back on command lines as
        # ckpt_path=..., where Hydra would read a second "=" as a syntax error.
        name = f"epoch_{trainer.current_epoch:03d}-{_slug(self.monitor)}_{score:.4f}.ckpt"
        path = directory / name
        trainer.save_checkpoint(path)
        self.best_k[str(path)] = score
        if self.save_top_k != -1 and len(self.best_k) > self.save_top_k:
            worst = self._worst()
            if worst is not None:
                del self.best_k[worst[0]]
                if trainer.is_global_zero:
                    Path(worst[0]).unlink(missing_ok=True)
        pick = min if self.mode == "min" else max
        self.best_model_path = pick(self.best_k, key=self.best_k.__getitem__)
        self.best_model_score = self.best_k[self.best_model_path]
        log.debug("Saved %s", path)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_k": dict(self.best_k),
            "best_model_path": self.best_model_path,
            "best_model_score": self.best_model_score,
            "last_model_path": self.last_model_path,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_k = dict(state["best_k"])
        self.best_model_path = state["best_model_path"]
        self.best_model_score = state["best_model_score"]
        self.last_model_path = state["last_model_path"]
