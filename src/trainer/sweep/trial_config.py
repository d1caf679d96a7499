"""Each trial's config, composed without repeating the work that is the same for every trial.

A trial's config is ``train.yaml`` composed with the sweep's overrides plus the trial's sampled
ones: what ``trainer train`` with the same overrides composes. Hydra's compose costs about
0.2 s, most of it loading and merging the same files for every trial. Here the files are composed
once per set of config-group choices (``optimizer=adam``...) and each trial's values are then set
on a copy the way Hydra itself applies a value override (its parser reads the value,
``OmegaConf.update`` merges it). A value Hydra would refuse goes the slow way, through
``compose_config``, so the error message is the one ``trainer train`` gives.

In a sweep the trials' early stopping and checkpoint follow the study's first metric (unless the
overrides name another monitor), through overrides recorded with the trial's own, so that its
``trainer train`` command reproduces it: a trial's value is then the epoch its checkpoint keeps,
the one the refit reproduces (``trial_value``). A light trial keeps no checkpoint file: nothing
reads it (an interrupted trial runs again from its start).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from trainer.config.compose import ComposedConfig, compose_config, group_options
from trainer.sweep.space import to_override
from trainer.tasks.base import Objective

#: The callbacks whose monitor the study's metric sets, when the user left it at ``auto``.
MONITORING_CALLBACKS = ("early_stopping", "model_checkpoint")


class TrialConfigs:
    """Composes trial configs for one study, caching the compose of each set of group choices.

    Args:
        base_overrides: the overrides every trial gets (the user's, without ``sweep.*``).
        metric: the study's first metric: the monitor of the trials' early stopping and checkpoint.
        direction: ``minimize`` or ``maximize``.
        keep_checkpoints: False for light trials, whose checkpoint files nothing reads.
    """

    def __init__(
        self, base_overrides: Sequence[str], *, metric: str, direction: str, keep_checkpoints: bool
    ) -> None:
        self.base_overrides = list(base_overrides)
        self.metric = metric
        self.mode = "min" if direction == "minimize" else "max"
        self.keep_checkpoints = keep_checkpoints
        self._groups = set(group_options())
        self._parser = OverridesParser.create()
        self._composed: dict[tuple[str, ...], ComposedConfig] = {}

    def with_monitor(self, overrides: Sequence[str]) -> list[str]:
        """``overrides`` plus those that point the trial's early stopping and checkpoint at the
        study's metric, where the composed config leaves their monitor at ``auto``."""
        overrides = list(overrides)
        cfg = self._cached([o for o in overrides if self._is_structural(o)]).cfg
        callbacks = cfg.get("callbacks")
        extra = []
        for name in MONITORING_CALLBACKS:
            node = callbacks.get(name) if isinstance(callbacks, DictConfig) else None
            chosen = {o.split("=", 1)[0] for o in overrides}
            if isinstance(node, DictConfig) and node.get("monitor") == "auto":
                if f"callbacks.{name}.monitor" not in chosen:
                    extra.append(to_override(f"callbacks.{name}.monitor", self.metric))
                implied = node.get("mode") == "auto" and Objective.direction(self.metric) == self.mode
                if "mode" in node and not implied and f"callbacks.{name}.mode" not in chosen:
                    extra.append(to_override(f"callbacks.{name}.mode", self.mode))
        return [*overrides, *extra]

    def compose(self, overrides: Sequence[str]) -> ComposedConfig:
        """The config of a trial with ``overrides`` (sampled values and its run name).

        Raises:
            ConfigError: an override ``trainer train`` would refuse, with its message.
        """
        overrides = list(overrides)
        fixed = [o for o in overrides if self._is_structural(o)]
        values = [o for o in overrides if not self._is_structural(o)]
        composed = self._fast(fixed, values)
        if composed is None:  # let Hydra raise (or compose) it the usual way
            composed = compose_config([*self.base_overrides, *overrides])
        self._adapt(composed.cfg)
        return composed

    def _is_structural(self, override: str) -> bool:
        """Group choices and additions/deletions change which files compose: part of the cache key."""
        key = override.split("=", 1)[0]
        return key[:1] in "+~" or key.split("@", 1)[0] in self._groups

    def _cached(self, fixed: list[str]) -> ComposedConfig:
        key = (*self.base_overrides, *fixed)
        if key not in self._composed:
            self._composed[key] = compose_config(list(key))
        return self._composed[key]

    def _fast(self, fixed: list[str], values: list[str]) -> ComposedConfig | None:
        key = (*self.base_overrides, *fixed)
        cached = self._cached(fixed)
        cfg = copy.deepcopy(cached.cfg)
        try:
            for override in self._parser.parse_overrides(values):
                OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
        except (HydraException, OmegaConfBaseException, ValueError):
            return None
        everything = [*key, *values]
        hydra = copy.deepcopy(cached.hydra)
        if isinstance(hydra.get("overrides"), dict):
            hydra["overrides"]["task"] = list(everything)
        return ComposedConfig(cfg=cfg, overrides=everything, choices=dict(cached.choices), hydra=hydra)

    def _adapt(self, cfg: DictConfig) -> None:
        callbacks = cfg.get("callbacks")
        if self.keep_checkpoints or not isinstance(callbacks, DictConfig):
            return
        if callbacks.get("model_checkpoint") is not None:
            with open_dict(cfg):
                callbacks.model_checkpoint = None
