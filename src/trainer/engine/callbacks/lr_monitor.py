"""Record the learning rate of every parameter group (per epoch, or per step for 1cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainer.engine.callbacks.base import Callback
from trainer.errors import ConfigError

if TYPE_CHECKING:
    from trainer.engine.module import TrainingModule
    from trainer.engine.trainer import Trainer


class LearningRateMonitor(Callback):
    """Log ``lr`` (``lr/group<i>`` for several groups) to the trainer's logger.

    Args:
        logging_interval: ``epoch`` or ``step``.
    """

    def __init__(self, *, logging_interval: str = "epoch") -> None:
        if logging_interval not in ("epoch", "step"):
            raise ConfigError(
                f"callbacks.lr_monitor.logging_interval={logging_interval!r}; choose 'epoch' or 'step'."
            )
        self.logging_interval = logging_interval
        self.history: list[tuple[int, float]] = []

    def current(self, trainer: Trainer) -> dict[str, float]:
        """The learning rate of each parameter group of the trainer's optimizer."""
        if trainer.optimizer is None:
            return {}
        groups = trainer.optimizer.param_groups
        if len(groups) == 1:
            return {"lr": float(groups[0]["lr"])}
        return {f"lr/group{i}": float(g["lr"]) for i, g in enumerate(groups)}

    def _record(self, trainer: Trainer) -> None:
        rates = self.current(trainer)
        if rates:
            self.history.append((trainer.global_step, next(iter(rates.values()))))
            trainer.log_metrics(rates, step=trainer.global_step)

    def on_train_epoch_start(self, trainer: Trainer, module: TrainingModule) -> None:
        # Recorded before the epoch runs: the rate the epoch is trained with. An epoch resumed
        # in the middle had its rate recorded when it began (the store holds each step once).
        if self.logging_interval == "epoch" and trainer.progress.batch == 0:
            self._record(trainer)

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None:
        if self.logging_interval == "step":
            self._record(trainer)
