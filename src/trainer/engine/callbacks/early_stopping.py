"""Stop when a monitored metric has not improved for ``patience`` validations."""

from __future__ import annotations

import logging
import math
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


class EarlyStopping(Callback):
    """Signal the Trainer to stop when ``monitor`` stalls.

    Args:
        monitor: metric name, e.g. ``val/loss``; ``auto`` watches the objective's default
            (``val/ap`` for binary, ``val/accuracy`` for multiclass, ``val/loss`` otherwise).
        mode: ``min``, ``max``, or ``auto`` (the metric's direction, from the objective).
        patience: validations without improvement before stopping.
        min_delta: smallest change that counts as an improvement.
        check_finite: stop at once when the metric is NaN or infinite.
        restore_best_weights: put the best epoch's weights back into the model at the end of fit.
    """

    def __init__(
        self,
        *,
        monitor: str = AUTO,
        mode: str = AUTO,
        patience: int = 10,
        min_delta: float = 0.0,
        check_finite: bool = True,
        restore_best_weights: bool = False,
    ) -> None:
        check_mode(mode, "callbacks.early_stopping")
        if patience < 0:
            raise ConfigError(f"callbacks.early_stopping.patience={patience} must be 0 or more.")
        # A named metric gets its direction now (decide() works before a fit); auto waits for it.
        self.monitor, self.mode = resolve_monitor(monitor, mode)
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.check_finite = check_finite
        self.restore_best_weights = restore_best_weights
        self.best: float | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.reason = ""
        self._best_weights: dict[str, Any] | None = None

    def decide(self, value: float) -> tuple[bool, bool, str]:
        """Pure decision: (improved, should_stop, reason) for the next monitored value."""
        if self.check_finite and not math.isfinite(value):
            return False, True, f"{self.monitor}={value} is not finite"
        if is_improvement(value, self.best, mode=self.mode, min_delta=self.min_delta):
            return True, False, ""
        if self.wait + 1 >= self.patience:
            # No best yet when the metric was never finite (check_finite=False).
            best = "None" if self.best is None else f"{self.best:.6g}"
            return (
                False,
                True,
                f"{self.monitor} did not improve for {self.wait + 1} validations (best {best})",
            )
        return False, False, ""

    def on_fit_start(self, trainer: Trainer, module: TrainingModule) -> None:
        self.monitor, self.mode = resolve_monitor(self.monitor, self.mode, module.objective)

    def on_validation_end(self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]) -> None:
        if self.monitor not in metrics:
            raise ConfigError(missing_metric_message(self.monitor, metrics, "callbacks.early_stopping"))
        value = float(metrics[self.monitor])
        improved, stop, reason = self.decide(value)
        if improved:
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self._best_weights = {k: v.detach().clone() for k, v in module.model.state_dict().items()}
        else:
            self.wait += 1
        if stop:
            self.stopped_epoch = trainer.current_epoch
            self.reason = reason
            trainer.should_stop = True
            log.info("Early stopping at epoch %d: %s.", trainer.current_epoch, reason)

    def on_fit_end(self, trainer: Trainer, module: TrainingModule) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            module.model.load_state_dict(self._best_weights)

    def state_dict(self) -> dict[str, Any]:
        # The best weights travel too: a run resumed after its best epoch must still end on it.
        return {
            "best": self.best,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.wait = state["wait"]
        self.stopped_epoch = state["stopped_epoch"]
        self._best_weights = state.get("best_weights")
