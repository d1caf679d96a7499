"""``run_sweep``: from the command's overrides to one or two studies (coarse, then fine).

The sweep's config is ``conf/sweep.yaml`` (``train.yaml`` plus ``sweep:`` and
``hparams_search``). Overrides of ``sweep.*`` and ``hparams_search`` set up the study; every
other override applies to every trial, composed from ``train.yaml`` so that each trial's config
is exactly what ``trainer train`` with the same overrides would compose.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.sweep.checks import check_metrics, check_space, probe_metrics
from trainer.sweep.isolation import isolated_trial
from trainer.sweep.refine import describe_change, refine_space, top_trials
from trainer.sweep.runner import StudyResult, create_study, quiet_optuna, run_study
from trainer.sweep.settings import SweepSettings, settings_from_config
from trainer.sweep.space import SearchSpace, parse_space
from trainer.sweep.storage import is_memory

SWEEP_KEYS = ("sweep", "hparams_search")


def is_sweep_override(override: str) -> bool:
    """Whether an override configures the study rather than the trials."""
    key = override.split("=", 1)[0].lstrip("+~")
    return key.split(".", 1)[0] in SWEEP_KEYS


def load_sweep(overrides: Sequence[str]) -> tuple[SweepSettings, SearchSpace, list[str]]:
    """Compose ``sweep.yaml`` and return the settings, the search space and the trials' overrides.

    Raises:
        ConfigError: a bad override, setting or search space.
    """
    composed = compose_config(list(overrides), config_name="sweep")
    cfg = composed.cfg
    search = _plain(cfg.get("hparams_search"))
    if not search or not search.get("params"):
        raise ConfigError("No search space: pass hparams_search=<name> (a file of conf/hparams_search/).")
    unknown = sorted(set(search) - {"params", "metric", "direction"})
    if unknown:
        raise ConfigError(
            f"hparams_search.{unknown[0]} is not a search-space field; use params, metric, direction."
        )
    name = composed.choices.get("hparams_search", "sweep")
    settings = settings_from_config(
        _plain(cfg.sweep),
        default_name=name,
        default_metric=search.get("metric"),
        default_direction=search.get("direction"),
        seed=int(cfg.seed) if cfg.get("seed") is not None else None,
    )
    space = parse_space(search["params"])
    base = [o for o in overrides if not is_sweep_override(o)]
    return settings, space, base


def _plain(node: Any) -> dict[str, Any]:
    if isinstance(node, DictConfig):
        out = OmegaConf.to_container(node, resolve=True)
        assert isinstance(out, dict)
        return {str(k): v for k, v in out.items()}
    return dict(node or {})


def validate_sweep(settings: SweepSettings, space: SearchSpace, base_overrides: Sequence[str]) -> None:
    """Every check that must pass before the first trial (keys, ranges, metrics, sampler, pruner).

    Raises:
        ConfigError: naming the bad value and what exists.
    """
    from trainer.sweep.pruners import build_pruner
    from trainer.sweep.samplers import build_sampler

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
        pruning=not settings.multi_objective and settings.pruner != "none",
        tested=settings.trial_record == "full",
    )


def _first(param: Any) -> Any:
    if param.numeric:
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
        name = (
            settings.study_name
            if settings.study_name != _default_name(settings)
            else f"{settings.refine_from}-refine"
        )
        return [_refine_stage(source, first_space, settings, base, name, out)]
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


def _default_name(settings: SweepSettings) -> str:
    return settings.study_name


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
