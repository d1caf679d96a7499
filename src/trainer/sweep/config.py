"""The sweep's config: ``conf/sweep.yaml`` composed into study settings, a search space and the
overrides every trial gets.

``sweep.yaml`` is ``train.yaml`` plus ``sweep:`` and ``hparams_search``. Overrides of
``sweep.*`` and ``hparams_search`` set up the study; every other override applies to every
trial, composed from ``train.yaml`` so that each trial's config is exactly what ``trainer
train`` with the same overrides would compose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from trainer.config.compose import ComposedConfig, compose_config
from trainer.errors import ConfigError
from trainer.sweep.settings import SweepSettings, settings_from_config
from trainer.sweep.space import SearchSpace, parse_space
from trainer.sweep.study_identity import default_study_name

SWEEP_KEYS = ("sweep", "hparams_search")
SPACE_FIELDS = ("params", "metric", "direction")


def is_sweep_override(override: str) -> bool:
    """Whether an override configures the study rather than the trials."""
    key = override.split("=", 1)[0].lstrip("+~")
    return key.split(".", 1)[0] in SWEEP_KEYS


def compose_sweep(overrides: Sequence[str]) -> ComposedConfig:
    """``conf/sweep.yaml`` composed with ``overrides`` (what ``trainer sweep ... --cfg`` prints).

    Raises:
        ConfigError: a bad override.
    """
    return compose_config(list(overrides), config_name="sweep")


def load_sweep(overrides: Sequence[str]) -> tuple[SweepSettings, SearchSpace, list[str]]:
    """Compose ``sweep.yaml`` and return the settings, the search space and the trials' overrides.

    Raises:
        ConfigError: a bad override, setting or search space.
    """
    composed = compose_sweep(overrides)
    cfg = composed.cfg
    search = plain(cfg.get("hparams_search"))
    if not search or not search.get("params"):
        raise ConfigError("No search space: pass hparams_search=<name> (a file of conf/hparams_search/).")
    unknown = sorted(set(search) - set(SPACE_FIELDS))
    if unknown:
        raise ConfigError(
            f"hparams_search.{unknown[0]} is not a search-space field; use {', '.join(SPACE_FIELDS)}."
        )
    settings = settings_from_config(
        plain(cfg.sweep),
        default_name=default_study_name(
            composed.choices.get("hparams_search", "sweep"), composed.choices.get("data")
        ),
        default_metric=search.get("metric"),
        default_direction=search.get("direction"),
        seed=int(cfg.seed) if cfg.get("seed") is not None else None,
    )
    space = parse_space(search["params"])
    base = [o for o in overrides if not is_sweep_override(o)]
    return settings, space, base


def plain(node: Any) -> dict[str, Any]:
    """A config node as a plain dict (resolved); {} for None."""
    if isinstance(node, DictConfig):
        out = OmegaConf.to_container(node, resolve=True)
        assert isinstance(out, dict)
        return {str(k): v for k, v in out.items()}
    return dict(node or {})
