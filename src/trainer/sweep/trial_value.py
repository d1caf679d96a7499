"""A trial's value: its monitored metric at the epoch its checkpoint keeps, not where it stopped.

Training rarely ends at its best epoch (early stopping waits ``patience`` epochs past it, a fixed
budget runs on). The study ranks trials, and the sampler learns, by the value of the checkpoint
a refit would keep and test: the first epoch whose first metric is the best of the run, the same
rule ``ModelCheckpoint`` and ``EarlyStopping`` use (a tie keeps the earlier epoch). The other
metrics of a multi-objective study are read at that same epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def best_epoch_row(
    history: Sequence[dict[str, Any]], *, metric: str, direction: str
) -> dict[str, Any] | None:
    """The history row (one per validated epoch) where ``metric`` is best; None when no row has a
    finite value of it."""
    best: dict[str, Any] | None = None
    for row in history:
        value = row.get(metric)
        if value is None or not math.isfinite(float(value)):
            continue
        if best is None or _better(float(value), float(best[metric]), direction):
            best = row
    return best


def _better(value: float, best: float, direction: str) -> bool:
    return value < best if direction == "minimize" else value > best
