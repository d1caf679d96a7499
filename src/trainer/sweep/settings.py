"""The study settings of the ``sweep:`` section, checked once into a frozen dataclass.

``conf/sweep.yaml`` is the one source of every default: a section that leaves a key out gets
the conf file's value (:func:`sweep_defaults`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainer.config.compose import ENV_CONF_DIR, conf_dir
from trainer.errors import ConfigError
from trainer.sweep.checks import check_settings

#: ``sweep.trial_record`` values: light trials (validation only) or full ones (all ``trainer train`` records).
LIGHT, FULL = "light", "full"
TRIAL_RECORDS = (LIGHT, FULL)
DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}


@dataclass(frozen=True)
class SweepSettings:
    """How a study runs; ``conf/sweep.yaml`` gives each field's meaning and its default.

    The fields have no defaults here on purpose: the ``sweep:`` section of ``conf/sweep.yaml``
    is their one source (:func:`settings_from_config` fills what a section leaves out from it).
    """

    study_name: str
    metrics: tuple[str, ...]
    directions: tuple[str, ...]
    n_trials: int
    timeout: float | None
    n_jobs: int
    storage: str
    sampler: str
    sampler_options: Mapping[str, Any]
    grid_points: int
    pruner: str
    pruner_options: Mapping[str, Any]
    seed: int | None
    max_failures: int | None
    top_k: int
    refine: bool
    refine_from: str | None
    refine_top_k: int
    refine_n_trials: int | None
    heartbeat_interval: int
    grace_period: int
    plots: bool
    trial_record: str
    refit_best: bool

    @property
    def prunes(self) -> bool:
        """Whether trials are pruned: one objective (Optuna prunes no other) and a pruner."""
        return not self.multi_objective and self.pruner != "none"

    @property
    def light_trials(self) -> bool:
        """Whether trials record lightly (validation only; the winner is refit with everything)."""
        return self.trial_record == LIGHT

    @property
    def multi_objective(self) -> bool:
        """Whether the study has several objectives (a Pareto front, no pruning)."""
        return len(self.metrics) > 1

    def replace(self, **changes: Any) -> SweepSettings:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for MLflow params and worker processes."""
        out = dataclasses.asdict(self)
        out["sampler_options"] = dict(self.sampler_options)
        out["pruner_options"] = dict(self.pruner_options)
        return out


def settings_from_config(
    section: Mapping[str, Any],
    *,
    default_name: str,
    default_metric: Any = None,
    default_direction: Any = None,
    seed: int | None = None,
) -> SweepSettings:
    """Build :class:`SweepSettings` from the ``sweep:`` section (plain values).

    Args:
        section: the composed ``sweep:`` mapping; keys it lacks take ``conf/sweep.yaml``'s values.
        default_name: study name when ``study_name`` is null (the search space's name); with
            ``refine_from`` set, a null ``study_name`` is ``<refine_from>-refine`` instead.
        default_metric: the search space's metric when ``sweep.metric`` is null.
        default_direction: the search space's direction when ``sweep.direction`` is auto.
        seed: the config's seed, used when ``sweep.seed`` is null.

    Raises:
        ConfigError: an unknown key, a value out of range (``checks.check_settings``), or
            metrics and directions that do not pair up.
    """
    valid = {f.name for f in dataclasses.fields(SweepSettings)} - {"metrics", "directions"}
    valid |= {"metric", "direction"}
    unknown = sorted(set(section) - valid)
    if unknown:
        raise ConfigError(f"sweep.{unknown[0]} is not a sweep setting; valid: {', '.join(sorted(valid))}.")
    defaults = sweep_defaults()
    given = {**defaults, **section}
    values = {k: v for k, v in given.items() if k not in ("metric", "direction")}
    # A refined study is named after its source unless the user named it: ``mlp-refine``.
    refined = f"{given['refine_from']}-refine" if given.get("refine_from") else None
    values["study_name"] = str(given.get("study_name") or refined or default_name)
    metric = given.get("metric") or default_metric or "val/loss"
    metrics = tuple(str(m) for m in (metric if isinstance(metric, list | tuple) else [metric]))
    direction = given.get("direction")
    # The search space's direction goes with its own metric, not with one the user named instead.
    if direction in (None, "auto") and default_direction is not None and not given.get("metric"):
        direction = default_direction
    values["metrics"] = metrics
    values["directions"] = _directions(direction, metrics)
    if values.get("seed") is None:
        values["seed"] = seed
    values["storage"] = str(values.get("storage") or defaults["storage"])
    check_settings(values, trial_records=TRIAL_RECORDS)
    return SweepSettings(**values)


def _directions(direction: Any, metrics: tuple[str, ...]) -> tuple[str, ...]:
    raw = list(direction) if isinstance(direction, list | tuple) else [direction] * len(metrics)
    if len(raw) != len(metrics):
        raise ConfigError(
            f"sweep.direction has {len(raw)} entries for {len(metrics)} metrics {list(metrics)}; "
            "give one per metric."
        )
    out = []
    for item, metric in zip(raw, metrics, strict=True):
        if item in (None, "auto"):
            from trainer.tasks.base import Objective

            out.append("minimize" if Objective.direction(metric) == "min" else "maximize")
        elif str(item).lower() in DIRECTIONS:
            out.append(DIRECTIONS[str(item).lower()])
        else:
            raise ConfigError(f"sweep.direction={item!r} is not a direction; use minimize, maximize or auto.")
    return tuple(out)


def sweep_defaults() -> dict[str, Any]:
    """The ``sweep:`` section of ``conf/sweep.yaml`` as plain values: every setting's default.

    Raises:
        ConfigError: the conf folder has no ``sweep.yaml`` with a ``sweep:`` section.
    """
    path = conf_dir() / "sweep.yaml"
    if not path.is_file():
        raise ConfigError(
            f"No sweep.yaml in {path.parent}; run from the project folder or set {ENV_CONF_DIR}."
        )
    conf = OmegaConf.load(path)
    node = conf.get("sweep") if isinstance(conf, DictConfig) else None
    section = OmegaConf.to_container(node, resolve=True) if node is not None else None
    if not isinstance(section, dict) or not section:
        raise ConfigError(f"{path} has no sweep: section with the study settings' defaults.")
    return {str(k): v for k, v in section.items()}
