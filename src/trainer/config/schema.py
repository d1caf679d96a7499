"""Structured-config schemas (dataclasses) of the parts of the config that are our own.

Groups whose nodes name a ``_target_`` (data, model, optimizer, scheduler, callbacks,
logger) are checked against the target's signature instead (see ``validate``), so a
schema never drifts from the code it configures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class TrainerConfig:
    """Mirrors :class:`trainer.engine.Trainer`'s keyword arguments (Lightning's names)."""

    accelerator: str = "auto"
    precision: str = "32"
    max_epochs: int = 30
    max_steps: int = -1
    max_time: float | None = None
    gradient_clip_val: float = 0.0
    gradient_clip_algorithm: str = "norm"
    accumulate_grad_batches: int = 1
    limit_train_batches: Any = 1.0  # int (count) or float (fraction)
    limit_val_batches: Any = 1.0
    limit_test_batches: Any = 1.0
    limit_predict_batches: Any = 1.0
    fast_dev_run: Any = False  # bool, or an int number of batches
    overfit_batches: int = 0
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 10
    deterministic: bool = False


#: The types of the fields typed ``Any`` above: OmegaConf 2.3 cannot hold a union of primitives,
#: so ``validate`` checks these itself (``fast_dev_run=abc`` would otherwise fail deep in the Trainer).
UNION_FIELDS: dict[str, Any] = {
    **{f"trainer.limit_{stage}_batches": int | float for stage in ("train", "val", "test", "predict")},
    "trainer.fast_dev_run": bool | int,
}


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
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    callbacks: Any = None
    logger: Any = None
    paths: PathsConfig = field(default_factory=PathsConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    seed: int = 42
    ckpt_path: str | None = None
    run_name: str | None = None
    test_after_fit: bool = True


def register_schemas() -> None:
    """Make the schemas available to Hydra configs as ``schema/train`` (idempotent)."""
    store = ConfigStore.instance()
    store.store(group="schema", name="train", node=TrainConfig)
