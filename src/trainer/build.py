"""Turn a validated config into live objects. ``hydra.utils.instantiate`` is called here only.

Components receive plain typed arguments; the only values added here are those known at
run time (input width from the data, output width from the objective, the run folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.data.tabular import TabularDataModule
from trainer.engine import Trainer, TrainingModule
from trainer.errors import ConfigError, UserError
from trainer.tasks import (
    OBJECTIVES,
    BinaryObjective,
    MulticlassObjective,
    Objective,
    ReconstructionObjective,
    RegressionObjective,
)
from trainer.tracking.base import Logger
from trainer.tracking.redact import redact_tree


def instantiate_component(node: Any, where: str, **kwargs: Any) -> Any:
    """instantiate() that surfaces our own UserErrors instead of Hydra's wrapper exception."""
    try:
        # _convert_="all": components get plain lists and dicts, never OmegaConf containers
        # (an optimizer keeping a ListConfig of betas cannot be saved with weights_only).
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise ConfigError(f"{where} could not be built: {' '.join(str(exc).split())}") from None


def build_datamodule(cfg: DictConfig) -> TabularDataModule:
    datamodule = instantiate_component(cfg.data, "data")
    datamodule.setup()
    return datamodule


def build_objective(cfg: DictConfig, datamodule: TabularDataModule) -> Objective:
    """The objective named in ``cfg.objective`` (``auto`` follows the data's task)."""
    spec = cfg.objective
    name = datamodule.task if spec.name == "auto" else spec.name
    if name not in OBJECTIVES:
        raise ConfigError(
            f"objective.name={name!r} is not known; choose auto or one of {', '.join(OBJECTIVES)}."
        )
    if name in ("binary", "multiclass") and datamodule.task == "regression":
        raise ConfigError(f"objective.name={name} needs class labels, but the data's target is continuous.")
    if name == "binary":
        return BinaryObjective(pos_weight=_pos_weight(spec.pos_weight, datamodule), threshold=spec.threshold)
    if name == "multiclass":
        return MulticlassObjective(label_smoothing=spec.label_smoothing)
    if name == "regression":
        return RegressionObjective(loss=spec.regression_loss)
    return ReconstructionObjective()


def _pos_weight(value: Any, datamodule: TabularDataModule) -> float | None:
    if value is None:
        return None
    if value == "balanced":
        labels = datamodule.tensors("train")[1]
        positives = float(labels.sum())
        if positives == 0:
            raise UserError("objective.pos_weight=balanced but the training split has no positive rows.")
        return (len(labels) - positives) / positives
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"objective.pos_weight={value!r}; use null, a number, or 'balanced'.") from None


def build_module(cfg: DictConfig, datamodule: TabularDataModule) -> TrainingModule:
    """Model, objective, optimizer and scheduler factories, and penalties in one module."""
    objective = build_objective(cfg, datamodule)
    in_features = datamodule.num_features
    if isinstance(objective, ReconstructionObjective):
        out_features = in_features
    else:
        out_features = objective.output_size(max(datamodule.num_classes, 1))
    model = instantiate_component(cfg.model, "model", in_features=in_features, out_features=out_features)
    optimizer_factory = instantiate_component(cfg.optimizer, "optimizer")
    scheduler_factory = instantiate_component(cfg.scheduler, "scheduler") if cfg.scheduler else None
    if cfg.regularization.l1 < 0 or cfg.regularization.l2 < 0:
        raise ConfigError("regularization.l1 and regularization.l2 must be 0 or more.")
    return TrainingModule(
        model,
        objective,
        optimizer_factory=optimizer_factory,
        scheduler_factory=scheduler_factory,
        l1=cfg.regularization.l1,
        l2=cfg.regularization.l2,
    )


def build_callbacks(cfg: DictConfig) -> list[Any]:
    """The configured callbacks in config order; entries set to null are left out."""
    nodes = cfg.callbacks or {}
    return [instantiate_component(node, f"callbacks.{name}") for name, node in nodes.items() if node]


def build_logger(cfg: DictConfig) -> Logger:
    if not cfg.logger:
        from trainer.tracking.base import NullLogger

        return NullLogger()
    return instantiate_component(cfg.logger, "logger")


def build_trainer(cfg: DictConfig, *, run_dir: Path, callbacks: Sequence[Any], logger: Logger) -> Trainer:
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(options, dict)
    trainer = Trainer(
        **{str(k): v for k, v in options.items()},
        callbacks=callbacks,
        logger=logger,
        default_root_dir=run_dir,
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    # Stored in every checkpoint, which may be uploaded: no credentials in it.
    trainer.config = redact_tree({str(k): v for k, v in resolved.items()})
    return trainer


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
