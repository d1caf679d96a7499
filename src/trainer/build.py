"""Turn a validated config into live objects. ``hydra.utils.instantiate`` is called here only.

Components receive plain typed arguments; the only values added here are those known at
run time (input width from the data, output width from the objective, the run folder).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.data.base import DataModule, DataShape
from trainer.data.resample import Resampler
from trainer.engine import Trainer, TrainingModule
from trainer.engine.seed import seed_everything
from trainer.errors import ConfigError, UserError
from trainer.ranges import check_value
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


def build_datamodule(cfg: DictConfig) -> DataModule:
    """The configured data, loaded, split and preprocessed; training rows resampled if asked."""
    datamodule: DataModule = instantiate_component(cfg.data, "data")
    datamodule.setup()
    options = OmegaConf.to_container(cfg.resample, resolve=True) if cfg.get("resample") else None
    if isinstance(options, dict) and options.get("name", "none") != "none":
        # Data other than a table refuses (DataModule.resample_training_rows' default).
        resampler = Resampler.from_options({str(k): v for k, v in options.items()}, random_state=cfg.seed)
        datamodule.resample_training_rows(resampler)
    return datamodule


def build_tabular_datamodule(cfg: DictConfig) -> DataModule:
    """:func:`build_datamodule` for commands that need a table: its ``raw_table()`` is not None."""
    datamodule = build_datamodule(cfg)
    if datamodule.raw_table() is None:
        raise ConfigError(
            f"This command needs a table; data._target_={cfg.data._target_!r} is not one. "
            "Choose a table option, e.g. data=csv or data=fraud_oracle."
        )
    return datamodule


def build_objective(cfg: DictConfig, datamodule: DataModule) -> Objective:
    """The objective named in ``cfg.objective`` (``auto`` follows the data's task)."""
    spec = cfg.objective
    name = datamodule.task if spec.name == "auto" else spec.name
    objective_type = objective_class(name)
    if objective_type.needs_classes and not objective_class(datamodule.task).needs_classes:
        raise ConfigError(f"objective.name={name} needs class labels, but the data's target is continuous.")
    options = OmegaConf.to_container(spec, resolve=True)
    assert isinstance(options, dict)
    return objective_type.from_options(
        {str(k): v for k, v in options.items()}, train_labels=datamodule.labels("train")
    )


def data_shape_arguments(target: str, datamodule: DataShape) -> dict[str, Any]:
    """``in_features`` and/or ``input_shape`` from the data, whichever the model's signature declares.

    A model that declares ``categorical_cardinalities`` also gets a table's one-hot block widths.

    A flat model (MLP) takes the width of a flattened input; a CNN or RNN takes the shape of one
    input without the batch dimension (``(1, 28, 28)``, ``(24, 1)``).
    """
    try:
        parameters = inspect.signature(get_object(target)).parameters
    except Exception:  # an unimportable target: instantiate names it
        parameters = {}  # type: ignore[assignment]
    shape: dict[str, Any] = {}
    if "input_shape" in parameters:
        shape["input_shape"] = list(datamodule.input_shape)
    if "in_features" in parameters or not shape:
        shape["in_features"] = datamodule.num_features
    # An embedding model (TabularEmbeddingNet) embeds each one-hot block of a table's columns.
    if "categorical_cardinalities" in parameters and datamodule.categorical_cardinalities is not None:
        shape["categorical_cardinalities"] = datamodule.categorical_cardinalities
    return shape


def build_module(cfg: DictConfig, datamodule: DataModule) -> TrainingModule:
    """Model, objective, optimizer and scheduler factories, and penalties in one module."""
    return build_module_with(cfg, datamodule, build_objective(cfg, datamodule))


def build_module_with(
    cfg: DictConfig, datamodule: DataShape, objective: Objective, *, model_node: DictConfig | None = None
) -> TrainingModule:
    """:func:`build_module` around a given objective, and model node (default ``cfg.model``).

    The fraud study trains objectives of its own (a class-weighted classifier, an autoencoder
    of another shape) through this same path, checks included.
    """
    node = cfg.model if model_node is None else model_node
    in_features = datamodule.num_features
    out_features = objective.output_size(num_features=in_features, num_classes=datamodule.num_classes)
    shape = data_shape_arguments(str(node._target_), datamodule)
    model = instantiate_component(node, "model", **shape, out_features=out_features)
    optimizer_factory = instantiate_component(cfg.optimizer, "optimizer")
    scheduler_factory = instantiate_component(cfg.scheduler, "scheduler") if cfg.scheduler else None
    for penalty in ("l1", "l2"):
        check_value(f"regularization.{penalty}", cfg.regularization[penalty])
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


def run_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain data, credentials masked: what checkpoints and params record."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    # Stored in every checkpoint, which may be uploaded: no credentials in it.
    return redact_tree({str(k): v for k, v in resolved.items()})


def build_data_and_module(cfg: DictConfig) -> tuple[DataModule, TrainingModule]:
    """Seed, then the data and the module: where every command that trains or scores starts.

    The same seed and config give the same split, preprocessing and initial weights, so
    ``trainer eval`` scores exactly the rows the run was tested on.
    """
    seed_everything(cfg.seed)
    datamodule = build_datamodule(cfg)
    return datamodule, build_module(cfg, datamodule)


def build_trainer(
    cfg: DictConfig,
    *,
    run_dir: Path,
    callbacks: Sequence[Any],
    logger: Logger,
    config: dict[str, Any] | None = None,
) -> Trainer:
    """The configured Trainer; ``config`` (default: :func:`run_config`) goes into its checkpoints."""
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(options, dict)
    trainer = Trainer(
        **{str(k): v for k, v in options.items()},
        callbacks=callbacks,
        logger=logger,
        default_root_dir=run_dir,
    )
    trainer.config = config if config is not None else run_config(cfg)
    return trainer


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
