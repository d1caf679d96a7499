"""Every numeric setting's valid range, in one table, and the one check that reads it.

The optimizer factories, the Trainer, the model and penalty builders and the sweep's search-space
check all ask :func:`check_value` (or read :data:`RANGES`), so a range is written once and every
place that refuses a value says the same words: the key, the value, the range and a usual value.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from trainer.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """Where a setting makes sense, and a usual value to offer as the fix.

    Attributes:
        low, high: the bounds (``high`` may be infinite).
        low_open: the low bound itself is out (a learning rate of 0 trains nothing).
        high_open: the high bound itself is out (a momentum of 1 never forgets).
        usual: a value to suggest in the fix.
        whole: only whole numbers (counts, epochs, batch sizes).
    """

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    usual: str = ""
    whole: bool = False

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def words(self) -> str:
        """The range in words: ``greater than 0``, ``1 or more``, ``in [0, 1)``."""
        if self.high == math.inf:
            return "greater than 0" if self.low_open and self.low == 0 else f"{self.low:g} or more"
        opening, closing = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {opening}{self.low:g}, {self.high:g}{closing}"

    def interval(self) -> str:
        """The range as an interval, for messages that list bounds: ``(0, inf)``, ``[0, 1)``."""
        opening, closing = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{opening}{self.low:g}, {self.high:g}{closing}"


_COUNT = Range(1, usual="1", whole=True)
_OFF_OR_COUNT = Range(0, usual="0", whole=True)
_PENALTY = Range(0, usual="0")

#: Every numeric setting with a range, by its key in the composed config.
RANGES: dict[str, Range] = {
    # torch's optimizers: torch checks only some, and only once training starts.
    "optimizer.lr": Range(0, low_open=True, usual="0.001"),  # 0 trains nothing, below 0 climbs the loss
    "optimizer.momentum": Range(0, 1, usual="0.9"),
    "optimizer.dampening": Range(0, 1, usual="0"),
    "optimizer.weight_decay": Range(0, usual="0.01"),
    "optimizer.eps": Range(0, low_open=True, usual="1e-8"),  # 0 divides by zero on a flat gradient
    "optimizer.alpha": Range(0, 1, usual="0.99"),  # RMSprop's decay of the squared-gradient average
    "optimizer.lr_decay": Range(0, usual="0"),
    "optimizer.initial_accumulator_value": Range(0, usual="0"),
    "optimizer.momentum_decay": Range(0, usual="0.004"),
    "optimizer.betas": Range(0, 1, usual="[0.9,0.999]"),  # each of the pair
    # The Trainer's counts and switches.
    "trainer.max_epochs": Range(1, usual="30", whole=True),
    "trainer.accumulate_grad_batches": _COUNT,
    "trainer.check_val_every_n_epoch": _COUNT,
    "trainer.log_every_n_steps": Range(1, usual="10", whole=True),
    "trainer.gradient_clip_val": Range(0, usual="1.0"),  # 0 turns clipping off
    "trainer.checkpoint_every_n_steps": _OFF_OR_COUNT,
    # The data, the model and the loss.
    "data.batch_size": Range(1, usual="64", whole=True),
    "model.dropout": Range(0, 1, usual="0.1"),
    "model.embedding_dropout": Range(0, 1, usual="0.1"),
    "regularization.l1": _PENALTY,
    "regularization.l2": _PENALTY,
    "objective.label_smoothing": Range(0, 1, usual="0.1"),
}


def check_value(key: str, value: Any) -> None:
    """Raise one ConfigError when ``value`` is not a number in ``key``'s range.

    Args:
        key: the setting's key in the config (``optimizer.lr``); a key without a range passes.
        value: the value given; None passes (the component's own default applies).

    Raises:
        ConfigError: e.g. ``optimizer.lr=-0.001 is out of range: it must be greater than 0.
            Fix: optimizer.lr=0.001 ...``
    """
    allowed = RANGES.get(key)
    if allowed is None or value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{key}={value!r} must be a number; e.g. {key}={allowed.usual}.")
    if allowed.whole and not float(value).is_integer():
        raise ConfigError(
            f"{key}={value} must be a whole number {allowed.words()}; e.g. {key}={allowed.usual}."
        )
    if math.isnan(value) or not allowed.holds(float(value)):
        raise ConfigError(
            f"{key}={value} is out of range: it must be {allowed.words()}. "
            f"Fix: {key}={allowed.usual} (the usual value) or another value {allowed.words()}."
        )
