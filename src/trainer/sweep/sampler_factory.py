"""Optuna samplers by name: tpe (seeded; group-decomposed for conditional spaces), random, grid,
cmaes, gp, qmc, nsga2."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna

from trainer.errors import ConfigError
from trainer.sweep.space import Param, SearchSpace, encode_choice

SAMPLERS = ("tpe", "random", "grid", "cmaes", "gp", "qmc", "nsga2")
#: Samplers that need a package beyond optuna, and the pip name that provides it.
_NEEDS = {"cmaes": ("cmaes", "cmaes"), "gp": ("scipy", "scipy")}


def build_sampler(
    name: str,
    *,
    space: SearchSpace,
    seed: int | None,
    options: Mapping[str, Any] | None = None,
    grid_points: int = 4,
    multi_objective: bool = False,
) -> optuna.samplers.BaseSampler:
    """The sampler called ``name``, seeded.

    Args:
        name: one of :data:`SAMPLERS`.
        space: the search space (the grid sampler enumerates it).
        seed: seed of the sampler's random numbers.
        options: extra keyword arguments of the sampler's constructor.
        grid_points: values per numeric parameter without a step, for the grid sampler.
        multi_objective: whether the study has several objectives.

    Raises:
        ConfigError: an unknown name, a missing package, a sampler that cannot serve the study.
    """
    kwargs = dict(options or {})
    if name not in SAMPLERS:
        raise ConfigError(f"sweep.sampler={name!r} is not a sampler; choose one of {', '.join(SAMPLERS)}.")
    if name in _NEEDS:
        module, package = _NEEDS[name]
        try:
            __import__(module)
        except ImportError:
            raise ConfigError(
                f"sweep.sampler={name} needs the {package!r} package: pip install {package}."
            ) from None
    if multi_objective and name == "cmaes":
        raise ConfigError(f"sweep.sampler={name} handles one metric only; use nsga2 or tpe for several.")
    try:
        if name == "tpe":
            return _tpe(space, seed=seed, options=kwargs, multi_objective=multi_objective)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed, **kwargs)
        if name == "grid":
            return optuna.samplers.GridSampler(grid_space(space, points=grid_points), seed=seed, **kwargs)
        if name == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, **kwargs)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, **kwargs)
        if name == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, **kwargs)
        return optuna.samplers.NSGAIISampler(seed=seed, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"sweep.sampler_options={kwargs} do not fit the {name} sampler: {exc}.") from None


def _tpe(
    space: SearchSpace, *, seed: int | None, options: dict[str, Any], multi_objective: bool
) -> optuna.samplers.TPESampler:
    """TPE, as Optuna's documentation advises for the space: a space with conditional parameters
    (``when:``) is sampled by the group-decomposed multivariate TPE.

    Optuna's default TPE is multivariate for one objective, but the multivariate model covers only
    the parameters every trial has: a conditional one (momentum, only for SGD) is sampled
    independently, silently. ``group=True`` models each subspace jointly instead (measured on the
    MLP space over 10 sampler seeds: experiments/sweep_mlp/README.md). An explicit
    ``sweep.sampler_options.group`` wins; several objectives keep Optuna's independent default.
    """
    if any(p.when for p in space.params) and not multi_objective and "group" not in options:
        with warnings.catch_warnings():
            # Optuna marks `group` experimental; it is chosen here, not by the user.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, group=True, **options)
    return optuna.samplers.TPESampler(seed=seed, **options)


def grid_space(space: SearchSpace, *, points: int) -> dict[str, list[Any]]:
    """Every parameter's grid: choices as they are, numeric ranges by step or ``points`` values."""
    return {p.key: _grid_values(p, points) for p in space.params}


def grid_size(space: SearchSpace, *, points: int) -> int:
    """How many trials the full grid holds (conditional parameters multiply it too)."""
    return math.prod(len(v) for v in grid_space(space, points=points).values())


def _grid_values(param: Param, points: int) -> list[Any]:
    if not param.numeric:
        return [encode_choice(c) for c in param.choices]
    assert param.low is not None and param.high is not None
    if param.step is not None:
        count = math.floor((param.high - param.low) / param.step + 1e-9) + 1
        values = [param.low + i * param.step for i in range(count)]
    elif param.log:
        values = list(np.geomspace(param.low, param.high, points))
    else:
        values = list(np.linspace(param.low, param.high, points))
    if param.kind == "int":
        return sorted({round(v) for v in values})
    return [float(v) for v in values]


def grid_combinations(space: SearchSpace, *, points: int) -> list[dict[str, Any]]:
    """The grid as a list of ``{key: value}`` (for tests and for counting)."""
    grid = grid_space(space, points=points)
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
