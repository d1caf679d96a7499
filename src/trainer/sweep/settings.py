"""The study settings of the ``sweep:`` section, checked once into a frozen dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trainer.errors import ConfigError

DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}


@dataclass(frozen=True)
class SweepSettings:
    """How a study runs; see ``conf/sweep.yaml`` for each field's meaning and default."""

    study_name: str
    metrics: tuple[str, ...] = ("val/loss",)
    directions: tuple[str, ...] = ("minimize",)
    n_trials: int = 20
    timeout: float | None = None
    n_jobs: int = 1
    storage: str = "sqlite:///optuna.db"
    sampler: str = "tpe"
    sampler_options: Mapping[str, Any] = field(default_factory=dict)
    grid_points: int = 4
    pruner: str = "median"
    pruner_options: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    max_failures: int | None = 5
    top_k: int = 5
    refine: bool = False
    refine_from: str | None = None
    refine_top_k: int = 5
    refine_n_trials: int | None = None
    heartbeat_interval: int = 10
    grace_period: int = 30
    plots: bool = True
    trial_record: str = "light"
    refit_best: bool = True

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
        section: the composed ``sweep:`` mapping.
        default_name: study name when ``study_name`` is null (the search space's name).
        default_metric: the search space's metric when ``sweep.metric`` is null.
        default_direction: the search space's direction when ``sweep.direction`` is auto.
        seed: the config's seed, used when ``sweep.seed`` is null.

    Raises:
        ConfigError: an unknown key, a bad count, or metrics and directions that do not pair up.
    """
    valid = {f.name for f in dataclasses.fields(SweepSettings)} - {"metrics", "directions"}
    valid |= {"metric", "direction"}
    unknown = sorted(set(section) - valid)
    if unknown:
        raise ConfigError(f"sweep.{unknown[0]} is not a sweep setting; valid: {', '.join(sorted(valid))}.")
    values = {k: v for k, v in section.items() if k not in ("metric", "direction")}
    values["study_name"] = str(section.get("study_name") or default_name)
    metric = section.get("metric") or default_metric or "val/loss"
    metrics = tuple(str(m) for m in (metric if isinstance(metric, list | tuple) else [metric]))
    direction = section.get("direction", "auto")
    # The search space's direction goes with its own metric, not with one the user named instead.
    if direction in (None, "auto") and default_direction is not None and not section.get("metric"):
        direction = default_direction
    values["metrics"] = metrics
    values["directions"] = _directions(direction, metrics)
    if values.get("seed") is None:
        values["seed"] = seed
    for name in ("n_trials", "n_jobs", "grid_points", "top_k", "refine_top_k"):
        if name in values and (not isinstance(values[name], int) or values[name] < 1):
            raise ConfigError(f"sweep.{name}={values[name]!r} must be a whole number of 1 or more.")
    if values.get("timeout") is not None and float(values["timeout"]) <= 0:
        raise ConfigError(f"sweep.timeout={values['timeout']} must be a positive number of seconds, or null.")
    if values.get("max_failures") is not None and int(values["max_failures"]) < 1:
        raise ConfigError(f"sweep.max_failures={values['max_failures']} must be 1 or more, or null.")
    values["storage"] = str(values.get("storage") or "sqlite:///optuna.db")
    if values.get("trial_record", "light") not in ("light", "full"):
        raise ConfigError(
            f"sweep.trial_record={values['trial_record']!r} is not a record level; use light or full."
        )
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
