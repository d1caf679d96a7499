"""Comparing a monitored metric with the best so far, shared by early stopping and checkpoints."""

from __future__ import annotations

import math

from trainer.errors import ConfigError

MODES = ("min", "max")


def check_mode(mode: str, owner: str) -> None:
    """Raise a clear error for a mode other than min/max."""
    if mode not in MODES:
        raise ConfigError(f"{owner}.mode={mode!r} is not known; choose 'min' or 'max'.")


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
