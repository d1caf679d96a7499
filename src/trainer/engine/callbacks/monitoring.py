"""Comparing a monitored metric with the best so far, shared by early stopping and checkpoints."""

from __future__ import annotations

import math

from trainer.errors import ConfigError
from trainer.tasks.base import Objective

#: ``monitor=auto`` watches the objective's default metric; ``mode=auto`` takes the metric's direction.
AUTO = "auto"
MODES = ("min", "max", AUTO)


def check_mode(mode: str, owner: str) -> None:
    """Raise a clear error for a mode other than min/max/auto."""
    if mode not in MODES:
        raise ConfigError(f"{owner}.mode={mode!r} is not known; choose 'min', 'max' or 'auto'.")


def resolve_monitor(monitor: str, mode: str, objective: Objective | None = None) -> tuple[str, str]:
    """Fill in ``auto``: the objective's default validation metric and its direction.

    Args:
        monitor: a metric name such as ``val/loss``, or ``auto``.
        mode: ``min``, ``max``, or ``auto`` (the direction the objective gives the metric).
        objective: the run's objective, which knows its metrics; without it (before a fit)
            ``monitor=auto`` stays unresolved and a named metric gets the usual direction.
    """
    if monitor == AUTO:
        if objective is None:
            return monitor, mode
        name, default_mode = objective.default_monitor
        return f"val/{name}", default_mode if mode == AUTO else mode
    if mode != AUTO:
        return monitor, mode
    direction = objective.direction if objective is not None else Objective.direction
    return monitor, direction(monitor)


def is_improvement(value: float, best: float | None, *, mode: str, min_delta: float = 0.0) -> bool:
    """True when ``value`` beats ``best`` by more than ``min_delta`` in the direction of ``mode``."""
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def missing_metric_message(monitor: str, available: dict[str, float], owner: str) -> str:
    names = ", ".join(sorted(available)) or "none"
    return (
        f"{owner}.monitor={monitor!r} is not among the metrics of this run ({names}); "
        f"set {owner}.monitor to one of them."
    )
