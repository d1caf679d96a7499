"""Noticing training that diverged: a loss that stays finite but grows by orders of magnitude.

A learning rate far too high can send the loss to 1e19 without ever making it NaN: the non-finite
check never fires, the run ends as if it had trained, and a sweep would rank such a trial like any
other. Epoch-mean training losses are compared with the first epoch's: ten thousand times larger
is not noise or a bad epoch but a run that has left the region where it learns (Lightning's
``EarlyStopping(divergence_threshold=...)`` stops on a fixed value instead, which depends on the
loss's scale; a ratio does not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: How many times the first epoch's loss a later epoch's must exceed to count as diverged.
DIVERGENCE_FACTOR = 1e4


def divergence(
    history: Sequence[dict[str, Any]], *, key: str = "train/loss", factor: float = DIVERGENCE_FACTOR
) -> str | None:
    """One line saying where ``key`` diverged in ``history`` (one row per epoch), or None.

    A first loss of zero or below gives no scale to compare with (a negative log-likelihood can
    be negative): nothing is judged then.
    """
    values = [
        (row.get("epoch"), float(row[key]))
        for row in history
        if key in row and math.isfinite(float(row[key]))
    ]
    if len(values) < 2 or values[0][1] <= 0:
        return None
    first_epoch, first = values[0]
    for epoch, value in values[1:]:
        if value > factor * first:
            return (
                f"training diverged: {key} reached {value:.3g} at epoch {_epoch(epoch)}, "
                f"{value / first:.3g} times epoch {_epoch(first_epoch)}'s {first:.3g}; lower optimizer.lr "
                "(trainer lr-find suggests one) or clip gradients (trainer.gradient_clip_val=1.0)"
            )
    return None


def _epoch(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)
