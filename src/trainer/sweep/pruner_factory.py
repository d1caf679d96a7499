"""Optuna pruners by name: median, percentile, hyperband, successive_halving, threshold, none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from trainer.errors import ConfigError

PRUNERS = ("median", "percentile", "hyperband", "successive_halving", "threshold", "none")

#: Defaults that suit short epoch-level curves: a few trials and epochs before judging. Steps are
#: epochs counted from 1 and Optuna's earliest prune is at ``step == n_warmup_steps``: 2 never
#: judges a trial on its first, noisiest epoch.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "median": {"n_startup_trials": 3, "n_warmup_steps": 2},
    "percentile": {"percentile": 25.0, "n_startup_trials": 3, "n_warmup_steps": 2},
    "hyperband": {"min_resource": 1, "reduction_factor": 3},
    "successive_halving": {"min_resource": 1, "reduction_factor": 3},
    "threshold": {},
}


def build_pruner(
    name: str, *, options: Mapping[str, Any] | None = None, multi_objective: bool = False
) -> optuna.pruners.BasePruner:
    """The pruner called ``name`` with our defaults, updated by ``options``.

    Args:
        name: one of :data:`PRUNERS`.
        options: keyword arguments of the pruner's constructor (threshold needs lower or upper).
        multi_objective: whether the study has several objectives; Optuna prunes single-objective
            studies only, so anything but ``none`` is refused.

    Raises:
        ConfigError: an unknown name, options the pruner does not take, or pruning a multi-objective study.
    """
    if name not in PRUNERS:
        raise ConfigError(f"sweep.pruner={name!r} is not a pruner; choose one of {', '.join(PRUNERS)}.")
    if name == "none":
        return optuna.pruners.NopPruner()
    if multi_objective:
        raise ConfigError(
            f"sweep.pruner={name} cannot prune a study with several metrics (Optuna prunes "
            "single-objective studies only); set sweep.pruner=none."
        )
    kwargs = {**_DEFAULTS[name], **dict(options or {})}
    classes = {
        "median": optuna.pruners.MedianPruner,
        "percentile": optuna.pruners.PercentilePruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "threshold": optuna.pruners.ThresholdPruner,
    }
    if name == "threshold" and "lower" not in kwargs and "upper" not in kwargs:
        raise ConfigError(
            "sweep.pruner=threshold needs a bound: sweep.pruner_options.upper=<value> (or .lower=<value>)."
        )
    try:
        pruner: optuna.pruners.BasePruner = classes[name](**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"sweep.pruner_options={dict(options or {})} do not fit the {name} pruner: {exc}."
        ) from None
    return pruner
