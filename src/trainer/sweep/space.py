"""Search spaces: the ``params`` of a ``conf/hparams_search/*.yaml`` file, parsed and sampled.

Each parameter is a config key (``optimizer.lr``) or a config group (``optimizer``) with a type:
float and int (``low``, ``high``, ``log``, ``step``), categorical (``choices``, lists included)
and group (options of a config group). ``when: {optimizer: [momentum]}`` samples a parameter
only when earlier parameters took one of the listed values. A sampled trial becomes a list of
Hydra overrides, the same strings a person would type after ``trainer train``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainer.errors import ConfigError

if TYPE_CHECKING:  # optuna loads slowly; `trainer train -m` parses spaces before it needs it
    import optuna

TYPES = ("float", "int", "categorical", "group")
_FIELDS = {
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when", "raw"},
    "group": {"type", "choices", "when"},
}


@dataclass(frozen=True)
class Param:
    """One searched parameter.

    Attributes:
        key: config key (``optimizer.lr``) or group name (``optimizer``).
        kind: float, int, categorical or group.
        low: lower bound of a numeric parameter.
        high: upper bound of a numeric parameter.
        log: sample a numeric parameter uniformly in log space.
        step: grid step of a numeric parameter, or None.
        choices: choices of a categorical or group parameter.
        when: sample only when each named earlier parameter took one of the listed values.
        raw: choices are Hydra value strings used as typed (``trainer train -m``).
        written: the override the user typed, when the parameter came from one (``trainer train
            -m optimizer=adam,sgd``): messages name it instead of a search-space key.
    """

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    raw: bool = False
    written: str = ""

    @property
    def where(self) -> str:
        """How messages name the parameter: as the user wrote it."""
        return self.written or f"hparams_search.params.{self.key}"

    @property
    def numeric(self) -> bool:
        """Whether the parameter is a float or int range."""
        return self.kind in ("float", "int")

    def to_dict(self) -> dict[str, Any]:
        """The parameter as its hparams_search entry (plain values, for params and workers)."""
        out: dict[str, Any] = {"type": self.kind}
        if self.numeric:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        else:
            out["choices"] = list(self.choices)
            if self.raw:
                out["raw"] = True
        if self.when:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of parameters; conditions refer only to parameters listed before them."""

    params: tuple[Param, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{key: entry}`` as in the hparams_search file."""
        return {p.key: p.to_dict() for p in self.params}

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggest every active parameter on ``trial``; returns ``{key: value}`` in space order."""
        values: dict[str, Any] = {}
        for param in self.params:
            if not _active(param, values):
                continue
            values[param.key] = _suggest(trial, param)
        return values

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """Hydra overrides for sampled ``values`` (groups first, so their keys exist for the rest)."""
        by_key = {p.key: p for p in self.params}
        ordered = sorted(values, key=lambda k: by_key[k].kind != "group" if k in by_key else True)
        return [to_override(k, values[k], raw=by_key[k].raw if k in by_key else False) for k in ordered]


def _active(param: Param, values: Mapping[str, Any]) -> bool:
    return all(values.get(key, _MISSING) in allowed for key, allowed in param.when.items())


_MISSING = object()


def _suggest(trial: optuna.Trial, param: Param) -> Any:
    if param.kind == "float":
        assert param.low is not None and param.high is not None
        return trial.suggest_float(param.key, param.low, param.high, log=param.log, step=param.step)
    if param.kind == "int":
        assert param.low is not None and param.high is not None
        step = int(param.step) if param.step is not None else 1
        return trial.suggest_int(param.key, int(param.low), int(param.high), step=step, log=param.log)
    encoded = [encode_choice(c) for c in param.choices]
    return decode_choice(trial.suggest_categorical(param.key, encoded))


def encode_choice(value: Any) -> Any:
    """Optuna stores only scalars: a list choice (hidden sizes) is kept as its JSON text."""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def decode_choice(value: Any) -> Any:
    """Inverse of :func:`encode_choice`."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def format_value(value: Any) -> str:
    """A value as Hydra override grammar reads it back (``[64,32]``, ``0.001``, ``null``)."""
    value = decode_choice(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # 12 digits: 0.30000000000000004 reads as 0.3
        return repr(float(f"{value:.12g}")) if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    text = str(value)
    if any(c in text for c in " ,=[]{}()'\"\\:") or text == "":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def to_override(key: str, value: Any, *, raw: bool = False) -> str:
    """``key=value`` in Hydra's grammar; ``raw`` values are already in it."""
    return f"{key}={value if raw else format_value(value)}"


# ---------------------------------------------------------------------------- parsing
def parse_space(params: Mapping[str, Any], *, where: str = "hparams_search.params") -> SearchSpace:
    """Parse the ``params`` mapping of an hparams_search file.

    Args:
        params: ``{key: {type: ..., ...}}`` as plain Python values.
        where: how to name the mapping in error messages.

    Returns:
        The search space, in file order.

    Raises:
        ConfigError: an unknown type or field, a bad range, or a condition on an unknown parameter.
    """
    if not params:
        raise ConfigError(
            f"{where} is empty; list the parameters to search, e.g. optimizer.lr: {{type: float, ...}}."
        )
    parsed: list[Param] = []
    for key, entry in params.items():
        parsed.append(_parse_param(str(key), entry, where, [p.key for p in parsed]))
    return SearchSpace(params=tuple(parsed))


def _parse_param(key: str, entry: Any, where: str, earlier: Sequence[str]) -> Param:
    name = f"{where}.{key}"
    if isinstance(entry, list):  # shorthand: a list of choices
        entry = {"type": "categorical", "choices": entry}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{name} must be a mapping with a type (one of {', '.join(TYPES)}), got {entry!r}.")
    kind = str(entry.get("type", "categorical" if "choices" in entry else "float"))
    if kind not in TYPES:
        raise ConfigError(f"{name}.type={kind!r} is not a parameter type; use one of {', '.join(TYPES)}.")
    unknown = sorted(set(entry) - _FIELDS[kind])
    if unknown:
        raise ConfigError(
            f"{name}.{unknown[0]} is not a field of a {kind} parameter; "
            f"valid fields: {', '.join(sorted(_FIELDS[kind]))}."
        )
    when = _parse_when(entry.get("when") or {}, name, earlier)
    if kind in ("categorical", "group"):
        choices = entry.get("choices")
        if not isinstance(choices, list | tuple) or not choices:
            raise ConfigError(f"{name}.choices must be a non-empty list, got {choices!r}.")
        if kind == "group" and not all(isinstance(c, str) for c in choices):
            raise ConfigError(f"{name}.choices must be option names of conf/{key}/, got {choices!r}.")
        return Param(key=key, kind=kind, choices=tuple(choices), when=when, raw=bool(entry.get("raw", False)))
    return _parse_range(key, kind, entry, name, when)


def _parse_range(key: str, kind: str, entry: Mapping[str, Any], name: str, when: Any) -> Param:
    if "low" not in entry or "high" not in entry:
        raise ConfigError(f"{name} needs low and high (e.g. low: 1.0e-4, high: 1.0e-1).")
    try:
        low, high = float(entry["low"]), float(entry["high"])
        step = None if entry.get("step") is None else float(entry["step"])
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: low, high and step must be numbers, got {dict(entry)!r}.") from None
    log = bool(entry.get("log", False))
    if kind == "int" and not all(float(v).is_integer() for v in (low, high, step or 1)):
        raise ConfigError(f"{name} is an int parameter: low, high and step must be whole numbers.")
    if not low < high:
        raise ConfigError(f"{name}: low={low:g} must be below high={high:g}.")
    if log and low <= 0:
        raise ConfigError(f"{name}: a log-scale range needs low > 0, got low={low:g}; raise low or drop log.")
    if log and step is not None and kind == "float":
        raise ConfigError(f"{name}: a float parameter takes log or step, not both.")
    if step is not None and step <= 0:
        raise ConfigError(f"{name}.step={step:g} must be above 0.")
    return Param(key=key, kind=kind, low=low, high=high, log=log, step=step, when=when)


def _parse_when(when: Any, name: str, earlier: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    if not isinstance(when, Mapping):
        raise ConfigError(
            f"{name}.when must map earlier parameters to their values, e.g. {{optimizer: [momentum]}}."
        )
    out: dict[str, tuple[Any, ...]] = {}
    for other, allowed in when.items():
        if other not in earlier:
            raise ConfigError(
                f"{name}.when refers to {other!r}, which is not a parameter listed before it; "
                f"earlier parameters: {', '.join(earlier) or '(none)'}."
            )
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        out[str(other)] = tuple(decode_choice(encode_choice(v)) for v in values)
    return out
