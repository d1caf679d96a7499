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
from trainer.redact import redact_tree
from trainer.tasks import Objective, objective_class
from trainer.tracking.base import Logger


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
    objective_type = objective_class(name)
    if objective_type.needs_classes and not objective_class(datamodule.task).needs_classes:
        raise ConfigError(f"objective.name={name} needs class labels, but the data's target is continuous.")
    options = OmegaConf.to_container(spec, resolve=True)
    assert isinstance(options, dict)
    return objective_type.from_options(
        {str(k): v for k, v in options.items()}, train_labels=datamodule.tensors("train")[1]
    )


def build_module(cfg: DictConfig, datamodule: TabularDataModule) -> TrainingModule:
    """Model, objective, optimizer and scheduler factories, and penalties in one module."""
    objective = build_objective(cfg, datamodule)
    in_features = datamodule.num_features
    out_features = objective.output_size(num_features=in_features, num_classes=datamodule.num_classes)
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
