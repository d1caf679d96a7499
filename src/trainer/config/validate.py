"""Check a composed config before anything runs: types, unknown keys, targets' arguments.

Our own parts are merged into their dataclass schemas (``schema.py``); every node with a
``_target_`` is checked against the signature of what it will instantiate.
"""

from __future__ import annotations

import collections.abc
import difflib
import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainer.config.schema import UNION_FIELDS, TrainConfig
from trainer.errors import ConfigError

HYDRA_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})
REQUIRED_GROUPS = ("data", "model", "optimizer")
#: Root sections that hold components (``_target_`` nodes), each a section or null, never a value.
COMPONENT_GROUPS = ("data", "model", "optimizer", "scheduler", "callbacks", "logger", "resample")


def validate_config(cfg: DictConfig) -> DictConfig:
    """Return ``cfg`` merged into its schema, or raise one ConfigError naming the key and the fix."""
    try:
        typed = OmegaConf.merge(_schema(), cfg)  # merge copies its first argument: the cache stays
    except OmegaConfBaseException as exc:
        raise ConfigError(_schema_message(exc)) from None
    assert isinstance(typed, DictConfig)
    missing = sorted(OmegaConf.missing_keys(typed))
    if missing:
        raise ConfigError(
            f"{missing[0]} has no value (???); pass it on the command line, e.g. {missing[0]}=..."
        )
    for group in REQUIRED_GROUPS:  # e.g. ~data: nothing would be built, and the error would come later
        if not typed[group]:
            raise ConfigError(f"{group} is empty; choose one of conf/{group}/ with {group}=<option>.")
    for group in COMPONENT_GROUPS:  # a section made a plain value: Hydra's "Cannot instantiate ... str"
        value = typed._get_node(group)
        if value is not None and not isinstance(value, DictConfig) and typed[group] is not None:
            raise ConfigError(
                f"{group}={typed[group]!r} is a plain value where a section belongs; choose an option "
                f"of conf/{group}/ with {group}=<option>."
            )
    for key, hint in UNION_FIELDS.items():
        value = OmegaConf.select(typed, key)
        raw = OmegaConf.to_container(value) if isinstance(value, ListConfig | DictConfig) else value
        if not _matches(raw, hint):
            raise ConfigError(
                f"{key}={raw!r} has the wrong type: expected {_type_name(hint)}. "
                "Fix the value on the command line or in conf/."
            )
    _check_targets(typed, "")
    return typed


@functools.cache
def _schema() -> DictConfig:
    # Building the schema from the dataclasses is half of a validation's cost; a sweep validates
    # dozens of configs.
    return OmegaConf.structured(TrainConfig)


def _schema_message(exc: OmegaConfBaseException) -> str:
    key = getattr(exc, "full_key", "") or ""
    message = str(exc).splitlines()[0]
    if "not in" in message and key:
        parent, _, leaf = key.rpartition(".")
        valid = _schema_keys(parent)
        hint = difflib.get_close_matches(leaf, valid, n=1)
        return f"{key} is not a key of {parent or 'the root config'}; valid keys: {', '.join(valid)}." + (
            f" Did you mean {hint[0]!r}?" if hint else ""
        )
    return f"{key or 'config'}: {message}. Fix the value on the command line or in conf/."


def _schema_keys(path: str) -> list[str]:
    node: Any = OmegaConf.structured(TrainConfig)
    for part in filter(None, path.split(".")):
        node = node[part]
    return [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []


def _check_targets(node: Any, path: str) -> None:
    if isinstance(node, DictConfig):
        if "_target_" in node:
            _check_target_node(node, path)
        for key in node.keys():
            child = node._get_node(key)
            if child is not None and isinstance(child, DictConfig | ListConfig):
                _check_targets(child, f"{path}.{key!s}" if path else str(key))
    elif isinstance(node, ListConfig):
        for index, item in enumerate(node):
            _check_targets(item, f"{path}[{index}]")


def _check_target_node(node: DictConfig, path: str) -> None:
    target = node["_target_"]
    try:
        obj: Callable[..., Any] = get_object(target)
    except Exception:
        raise ConfigError(
            f"{path}._target_={target!r} cannot be imported; check the spelling of the class path."
        ) from None
    signature = inspect.signature(obj)
    params = signature.parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    try:
        hints = typing.get_type_hints(obj.__init__ if inspect.isclass(obj) else obj)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    valid = [name for name in params if name not in ("self", "args", "kwargs")]
    for key in node.keys():
        key = str(key)
        if key in HYDRA_KEYS:
            continue
        if key not in params and not accepts_any:
            hint = difflib.get_close_matches(key, valid, n=1)
            raise ConfigError(
                f"{path}.{key} is not an option of {target}; valid keys: {', '.join(valid)}."
                + (f" Did you mean {hint[0]!r}?" if hint else "")
            )
        value = node._get_node(key)
        if key in hints and not isinstance(value, DictConfig) and not OmegaConf.is_missing(node, key):
            raw = OmegaConf.to_container(value) if isinstance(value, ListConfig) else node[key]
            component = _component_type(hints[key])
            if component is not None and raw is not None:
                raise ConfigError(_value_for_component(path, key, raw, component))
            if not _matches(raw, hints[key]):
                raise ConfigError(
                    f"{path}.{key}={raw!r} has the wrong type for {target}: expected "
                    f"{_type_name(hints[key])}. Fix the value on the command line or in conf/."
                )


def _component_type(hint: Any) -> type | None:
    """The project's own class a parameter takes (a ``TableSource``), built from a ``_target_`` section.

    A plain value can never be one: ``data.source=digits`` would reach the data module as the
    string 'digits' and fail deep inside it.
    """
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for member in members:
        if inspect.isclass(member) and member.__module__.split(".")[0] == "trainer":
            return member
    return None


def _value_for_component(path: str, key: str, raw: Any, component: type) -> str:
    """Say that a section was expected, and which group option the value may have meant."""
    group = path.split(".")[0]
    if isinstance(raw, str) and raw in _group_options().get(group, []):
        fix = f"to use other {group}, choose the option: {group}={raw}"
    else:
        fix = f"set its keys ({path}.{key}.<key>=...) or choose a {group} option ({group}=<option>)"
    return (
        f"{path}.{key}={raw!r} is a plain value, but {path}.{key} is a section that builds a "
        f"{component.__name__} (a _target_ and its settings); {fix}."
    )


def _group_options() -> dict[str, list[str]]:
    from trainer.config.compose import group_options

    return group_options()


def _matches(value: Any, hint: Any) -> bool:
    """A deliberately small type check: primitives, optionals, unions and sequences."""
    if hint is Any or (value is None and _allows_none(hint)):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if _is_tensor_type(hint):  # a config holds no tensors; torch takes a number in their place
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin in (list, tuple, collections.abc.Sequence):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return False
        args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
        return len(args) != 1 or all(_matches(item, args[0]) for item in value)
    return True  # anything richer (paths, objects) is left to the target itself


def _is_tensor_type(hint: Any) -> bool:
    # By name, so that checking a config does not import torch.
    return getattr(hint, "__module__", "") == "torch" and getattr(hint, "__name__", "") == "Tensor"


def _allows_none(hint: Any) -> bool:
    return hint is type(None) or type(None) in typing.get_args(hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
