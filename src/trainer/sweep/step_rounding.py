"""A sampler wrapper that stores a float drawn on a step grid as it is written: 0.3, not
0.30000000000000004.

Optuna puts a stepped float on its grid as ``low + k * step`` in binary floating point, and stores
that value: ``model.dropout`` with ``step: 0.1`` reads ``0.30000000000000004`` in the study, in
optuna-dashboard's params table and in every override built from it. Rounding the drawn value to
the decimals of ``low`` and ``step`` gives the grid point the user wrote; the sampler's choice
is otherwise untouched (the rounding moves a value by less than 1e-15 of its step).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


def on_written_grid(value: Any, distribution: BaseDistribution) -> Any:
    """``value`` rounded to the decimals of its distribution's ``low`` and ``step`` (stepped
    floats only; every other value as it is)."""
    if not isinstance(distribution, FloatDistribution) or distribution.step is None:
        return value
    digits = max(_decimals(distribution.low), _decimals(distribution.step))
    return min(max(round(float(value), digits), distribution.low), distribution.high)


def _decimals(number: float) -> int:
    """Decimal places of ``number`` as Python writes it (0.1 -> 1, 0.25 -> 2, 2.0 -> 0)."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


class StepRoundingSampler(BaseSampler):
    """Delegates every decision to ``base``; a stepped float it draws is stored on the written grid."""

    def __init__(self, base: BaseSampler) -> None:
        self.base = base

    def __getattr__(self, name: str) -> Any:
        # Anything else a caller reads of the sampler (a TPE setting) is the base's. (``base``
        # itself lands here only before __init__ set it, as when a copy is being made.)
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        values = self.base.sample_relative(study, trial, search_space)
        return {name: on_written_grid(value, search_space[name]) for name, value in values.items()}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        value = self.base.sample_independent(study, trial, param_name, param_distribution)
        return on_written_grid(value, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


def rounding_steps(sampler: BaseSampler) -> BaseSampler:
    """``sampler`` wrapped so that its stepped floats are stored as written; a grid sampler as it is
    (its points are the grid's own, and Optuna asks a study's sampler whether it is a grid)."""
    if isinstance(sampler, optuna.samplers.GridSampler):
        return sampler
    return StepRoundingSampler(sampler)
