"""What a learning-rate schedule is planned from, and how the Trainer steps it.

These two plain types sit in ``optim/`` (not in the engine) because the schedules are built
from them: the engine imports them from here, and nothing in ``optim/`` imports the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrainingPlan:
    """What a scheduler may need to know about the run ahead (1cycle needs the total steps)."""

    max_epochs: int
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return max(1, self.max_epochs * self.steps_per_epoch)


@dataclass
class SchedulerSpec:
    """A learning-rate scheduler and when the Trainer steps it.

    Attributes:
        scheduler: any torch LR scheduler (``ReduceLROnPlateau`` included).
        interval: ``"epoch"`` or ``"step"`` (one optimizer step).
        monitor: metric passed to ``scheduler.step`` (performance scheduling), e.g. ``val/loss``.
    """

    scheduler: Any
    interval: str = "epoch"
    monitor: str | None = None
