"""Structured-config schemas (dataclasses) of the parts of the config that are our own.

Groups whose nodes name a ``_target_`` (data, model, optimizer, scheduler, callbacks,
logger) are checked against the target's signature instead (see ``validate``), so a
schema never drifts from the code it configures.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass, field, make_dataclass
from typing import Any

#: Trainer arguments that are objects passed in code, not config values.
_TRAINER_RUNTIME_ARGS = frozenset({"callbacks", "logger", "default_root_dir"})
_PRIMITIVES = (str, int, float, bool)


def _trainer_schema() -> tuple[type, dict[str, Any]]:
    """A dataclass of the Trainer's config arguments, built from its signature.

    The Trainer's signature is the one source of names, types and defaults: nothing here is
    copied by hand, so the schema cannot drift from the code (``conf/trainer/default.yaml``
    is checked against the same signature by a test).

    Returns:
        The dataclass, and the fields whose type is a union of primitives (``int | float``),
        which OmegaConf 2.3 cannot hold: they are typed ``Any`` and checked by ``validate``.
    """
    from trainer.engine.trainer import Trainer

    hints = typing.get_type_hints(Trainer.__init__)
    fields: list[tuple[str, Any, Any]] = []
    unions: dict[str, Any] = {}
    for name, parameter in inspect.signature(Trainer.__init__).parameters.items():
        if name == "self" or name in _TRAINER_RUNTIME_ARGS:
            continue
        hint = hints[name]
        members = [t for t in typing.get_args(hint) if t is not type(None)]
        if len(members) > 1 and all(t in _PRIMITIVES for t in members):
            unions[f"trainer.{name}"] = hint
            hint = Any
        fields.append((name, hint, field(default=parameter.default)))
    schema = make_dataclass("TrainerConfig", fields)
    schema.__doc__ = "The Trainer's config arguments (generated from its signature)."
    return schema, unions


TrainerConfig, _TRAINER_UNIONS = _trainer_schema()

#: Fields typed ``Any`` in the schemas because they hold a union of primitives; ``validate``
#: checks their values against these types itself (``fast_dev_run=abc`` would otherwise
#: fail deep in the Trainer).
UNION_FIELDS: dict[str, Any] = dict(_TRAINER_UNIONS)


@dataclass
class ObjectiveConfig:
    name: str = "auto"
    pos_weight: Any = None  # null, a number, or "balanced"
    threshold: float = 0.5
    regression_loss: str = "mse"
    label_smoothing: float = 0.0


@dataclass
class RegularizationConfig:
    l1: float = 0.0
    l2: float = 0.0


@dataclass
class PathsConfig:
    runs_dir: str = "runs"
    run_dir: str | None = None


@dataclass
class TrainConfig:
    """The root of ``train.yaml``; group nodes with a ``_target_`` are typed ``Any`` here."""

    data: Any = None
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # type: ignore[valid-type]
    callbacks: Any = None
    logger: Any = None
    resample: Any = None  # conf/resample/<name>.yaml: a sampler for the training rows, or none
    paths: PathsConfig = field(default_factory=PathsConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    seed: int = 42
    ckpt_path: str | None = None
    run_name: str | None = None
    test_after_fit: bool = True
