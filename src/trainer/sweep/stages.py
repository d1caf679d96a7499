"""``run_sweep``: from the command's overrides to one or two studies (coarse, then fine).

The first stage is checked before its first trial (``validate_sweep``) and run by
``study_run.run_study``. With ``sweep.refine=true`` a second study follows on ranges shrunk
around the first one's top trials (``refine_ranges``); ``sweep.refine_from=<study>`` runs only
that second stage, on an existing study of the same storage.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import optuna

from trainer.errors import ConfigError
from trainer.sweep.checks import check_metrics, check_space, probe_metrics
from trainer.sweep.config import is_sweep_override, load_sweep
from trainer.sweep.pruner_factory import build_pruner
from trainer.sweep.refine_ranges import describe_change, refine_space, top_trials
from trainer.sweep.sampler_factory import build_sampler
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import Param, SearchSpace, parse_space
from trainer.sweep.storage import is_memory
from trainer.sweep.study_factory import create_study, quiet_optuna
from trainer.sweep.study_run import StudyResult, run_study
from trainer.sweep.trial_isolation import isolated_trial


def validate_sweep(settings: SweepSettings, space: SearchSpace, base_overrides: Sequence[str]) -> None:
    """Every check that must pass before the first trial (keys, ranges, metrics, sampler, pruner).

    Raises:
        ConfigError: naming the bad value and what exists.
    """
    build_pruner(settings.pruner, options=settings.pruner_options, multi_objective=settings.multi_objective)
    build_sampler(
        settings.sampler,
        space=space,
        seed=settings.seed,
        options=settings.sampler_options,
        grid_points=settings.grid_points,
        multi_objective=settings.multi_objective,
    )
    check_space(space, base_overrides=base_overrides)
    first = space.overrides({p.key: _first(p) for p in space.params if not p.when})
    with isolated_trial():
        produced = probe_metrics([*base_overrides, *first])
    check_metrics(
        settings.metrics,
        produced,
        pruning=settings.prunes,
        tested=not settings.light_trials,
    )


def _first(param: Param) -> Any:
    if param.numeric:
        assert param.low is not None  # a numeric parameter always has bounds
        return int(param.low) if param.kind == "int" else param.low
    return param.choices[0]


def run_sweep(
    overrides: Sequence[str],
    *,
    space: SearchSpace | None = None,
    settings: SweepSettings | None = None,
    stream: Any = None,
) -> list[StudyResult]:
    """Run ``trainer sweep <overrides>``: validate, run the study, and its refined stage if asked.

    Args:
        overrides: the command line's overrides.
        space: a search space that replaces the composed one (``trainer train -m``).
        settings: settings that replace the composed ones (``trainer train -m``).
        stream: where live lines and tables go (stdout by default).

    Returns:
        One result per stage that ran.

    Raises:
        ConfigError: anything wrong before the first trial.
        UserError: ``max_failures`` trials failed.
    """
    out = stream or sys.stdout
    if settings is None or space is None:
        loaded_settings, loaded_space, base = load_sweep(overrides)
        settings, space = settings or loaded_settings, space or loaded_space
    else:
        base = [o for o in overrides if not is_sweep_override(o)]
    results: list[StudyResult] = []
    if settings.refine_from:
        with quiet_optuna():
            source = create_study(settings.replace(study_name=settings.refine_from), space)
        if not source.trials:
            raise ConfigError(
                f"sweep.refine_from={settings.refine_from}: no such study in {settings.storage}."
            )
        stored = source.user_attrs.get("space")
        first_space = parse_space(stored) if stored else space
        base = list(source.user_attrs.get("base_overrides", base)) + [
            o for o in base if o not in source.user_attrs.get("base_overrides", [])
        ]
        return [_refine_stage(source, first_space, settings, base, settings.study_name, out)]
    if settings.refine and is_memory(settings.storage):
        raise ConfigError(
            "sweep.refine=true needs a storage that keeps the first stage for the second: use "
            "sweep.storage=sqlite:///optuna.db (the default) or journal:<file>, not memory."
        )
    validate_sweep(settings, space, base)
    print(
        f"Sweep {settings.study_name}: {settings.n_trials} trials, sampler {settings.sampler}, "
        f"pruner {settings.pruner}, {', '.join(settings.metrics)} ({', '.join(settings.directions)}).",
        file=out,
        flush=True,
    )
    results.append(
        run_study(settings=settings, space=space, base_overrides=base, study_attrs={"stage": 1}, stream=out)
    )
    if settings.refine:
        with quiet_optuna():
            source = create_study(settings, space)
        results.append(_refine_stage(source, space, settings, base, f"{settings.study_name}-refine", out))
    return results


def _refine_stage(
    source: optuna.Study, space: SearchSpace, settings: SweepSettings, base: list[str], name: str, out: Any
) -> StudyResult:
    narrowed = refine_space(space, top_trials(source, k=settings.refine_top_k))
    lines = describe_change(space, narrowed) or ["  (no range changed)"]
    print(
        f"Refining {source.study_name} around its top {settings.refine_top_k} into {name}:",
        *lines,
        sep="\n",
        file=out,
        flush=True,
    )
    stage = settings.replace(
        study_name=name,
        n_trials=settings.refine_n_trials or settings.n_trials,
        refine=False,
        refine_from=None,
    )
    return run_study(
        settings=stage,
        space=narrowed,
        base_overrides=base,
        study_attrs={"stage": 2, "refined_from": source.study_name, "refine_changes": lines},
        stream=out,
    )
