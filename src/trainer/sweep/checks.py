"""Checks that stop a sweep before its first trial: every study setting is in its range, every
searched key exists and every value fits, and the monitored metrics are ones the training run
produces (learned from a one-batch probe run). Every value range of the sweep is here."""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainer.config.compose import compose_config, group_options
from trainer.config.validate import validate_config
from trainer.errors import ConfigError, UserError
from trainer.ranges import RANGES
from trainer.sweep.space import Param, SearchSpace, to_override

#: Overrides that make the probe run one cheap epoch that records nothing.
PROBE_OVERRIDES = (
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.accelerator=cpu",
    "logger=none",
    "callbacks=none",
    "test_after_fit=false",
)


#: Study settings that count something: whole numbers of 1 or more.
COUNT_SETTINGS = ("n_trials", "n_jobs", "grid_points", "top_k", "refine_top_k")


def check_settings(values: Mapping[str, Any], *, trial_records: Collection[str]) -> None:
    """The ranges of the ``sweep:`` settings (before the dataclass is made).

    Args:
        values: the settings by field name.
        trial_records: the accepted ``trial_record`` values.

    Raises:
        ConfigError: naming the setting, its value and what it accepts.
    """
    for name in COUNT_SETTINGS:
        if name in values and (not isinstance(values[name], int) or values[name] < 1):
            raise ConfigError(f"sweep.{name}={values[name]!r} must be a whole number of 1 or more.")
    if values.get("timeout") is not None and float(values["timeout"]) <= 0:
        raise ConfigError(f"sweep.timeout={values['timeout']} must be a positive number of seconds, or null.")
    if values.get("max_failures") is not None and int(values["max_failures"]) < 1:
        raise ConfigError(f"sweep.max_failures={values['max_failures']} must be 1 or more, or null.")
    if values.get("trial_record") not in trial_records:
        raise ConfigError(
            f"sweep.trial_record={values.get('trial_record')!r} is not a record level; "
            f"use {' or '.join(trial_records)}."
        )


def check_space(space: SearchSpace, *, base_overrides: Sequence[str]) -> None:
    """Compose the config at every parameter's bounds and choices; raise on the first bad one.

    Raises:
        ConfigError: a group option that does not exist, a key not in the config (naming the
            keys that exist), a value the key does not accept.
    """
    groups = group_options()
    composed: dict[tuple[str, ...], DictConfig] = {}
    for param in space.params:
        if param.kind == "group":
            options = groups.get(param.key)
            if options is None:
                raise ConfigError(
                    f"{param.where} has type group, but conf/ has no group "
                    f"{param.key!r}; groups: {', '.join(sorted(groups))}."
                )
            bad = [c for c in param.choices if c not in options]
            if bad:
                raise ConfigError(
                    f"{param.where}: {bad[0]!r} is not an option of conf/{param.key}/; "
                    f"options: {', '.join(options)}."
                )
        _check_known_range(param)
        for value in _probe_values(param):
            conditions = [*base_overrides, *_condition_overrides(space, param)]
            if param.kind != "group" and not param.raw and _fits(composed, conditions, param.key, value):
                continue
            overrides = [*conditions, to_override(param.key, value, raw=param.raw)]
            if param.kind == "group":
                overrides[-1] = f"{param.key}={value}"
            try:
                validate_config(compose_config(overrides).cfg)
            except ConfigError as exc:
                raise ConfigError(f"{param.where}: {param.key}={value!r}: {exc}") from None


def _fits(composed: dict[tuple[str, ...], DictConfig], conditions: list[str], key: str, value: Any) -> bool:
    """Whether ``key=value`` set on the config composed with ``conditions`` validates.

    The config is composed once per set of conditions (a compose costs about 0.1 s, and a space
    probes each parameter at both bounds), and the value set on a copy. False sends the caller
    the slow way, which composes with the override itself and raises the error it finds.
    """
    fixed = tuple(conditions)
    if fixed not in composed:
        composed[fixed] = compose_config(conditions).cfg
    cfg = composed[fixed].copy()
    try:
        OmegaConf.update(cfg, key, value, merge=False)  # struct mode: a missing key raises
        validate_config(cfg)
    except (ConfigError, OmegaConfBaseException, ValueError, TypeError):
        return False
    return True


def _probe_values(param: Param) -> list[Any]:
    if param.numeric:
        if param.kind == "int":
            return [int(param.low or 0), int(param.high or 0)]
        return [param.low, param.high]
    return list(param.choices)


def _condition_overrides(space: SearchSpace, param: Param) -> list[str]:
    by_key = {p.key: p for p in space.params}
    out = []
    for key, allowed in param.when.items():
        other = by_key[key]
        out.append(
            f"{key}={allowed[0]}" if other.kind == "group" else to_override(key, allowed[0], raw=other.raw)
        )
    return out


def _check_known_range(param: Param) -> None:
    """A searched key with a range in ``trainer.ranges`` is searched inside that range only."""
    allowed = RANGES.get(param.key)
    if allowed is None:
        return
    values = (
        [param.low, param.high] if param.numeric else [c for c in param.choices if isinstance(c, int | float)]
    )
    if allowed.whole and param.kind == "float":
        raise ConfigError(f"{param.where} takes whole numbers; use type: int.")
    for value in values:
        if value is not None and not allowed.holds(float(value)):
            raise ConfigError(
                f"{param.where}: {value:g} is outside what "
                f"{param.key} accepts {allowed.interval()}; narrow the range."
            )


def probe_metrics(overrides: Sequence[str]) -> dict[str, float]:
    """Run one cheap epoch with ``overrides`` and return the validation metrics it produced.

    Raises:
        UserError: the probe run itself failed (bad data, a broken config); the message says why.
    """
    from trainer.reporting.outputs import RunOutputs
    from trainer.train import train

    with tempfile.TemporaryDirectory(prefix="sweep-probe-") as folder:
        # The probe swaps the logger and callbacks for none: their keys would not exist there.
        kept = [
            o
            for o in overrides
            if o.split("=", 1)[0].lstrip("+~").split(".")[0] not in ("logger", "callbacks")
        ]
        composed = compose_config([*kept, *PROBE_OVERRIDES, f"paths.run_dir={folder}/probe"])
        try:
            # Only its validation metrics are read: no figures, summary, test or model.
            result = train(composed, outputs=RunOutputs.light())
        except UserError as exc:
            raise UserError(
                f"The sweep's probe run (one cheap epoch before the first trial) failed: {exc}"
            ) from None
    return result.metrics


def check_metrics(
    metrics: Sequence[str], produced: dict[str, float], *, pruning: bool, tested: bool = True
) -> None:
    """Every study metric must be produced per validation (``val/...``), or at the end (``test/...``,
    only when trials evaluate the test split: ``tested``).

    Raises:
        ConfigError: naming the unknown metric and the metrics that exist.
    """
    val = sorted(produced)
    known = {*val, *(f"test/{k.split('/', 1)[1]}" for k in val)}
    for metric in metrics:
        if metric not in known:
            raise ConfigError(
                f"sweep.metric={metric} is not a metric this run produces; "
                f"validation metrics: {', '.join(val)} "
                "(and the same names under test/)."
            )
        if metric.startswith("test/") and not tested:
            raise ConfigError(
                f"sweep.metric={metric}: trials do not evaluate the test split with "
                "sweep.trial_record=light (choosing by test metrics tunes on the test split); "
                "use the same metric under val/, or sweep.trial_record=full."
            )
        if pruning and not metric.startswith("val/"):
            raise ConfigError(
                f"sweep.metric={metric}: pruning reports validation metrics; "
                "use val/... or sweep.pruner=none."
            )
