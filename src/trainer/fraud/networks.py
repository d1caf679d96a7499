"""Train a network of the study through the real engine, early-stopped on validation AP.

The study hands over tensors it prepared (resampled training rows, or normal rows only for
the autoencoder, and the untouched validation and test rows); :class:`ArraysDataModule` serves
them to the :class:`~trainer.engine.Trainer` like any datamodule, so each approach's run is
logged and checkpointed like a ``trainer train`` run.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import get_object
from omegaconf import DictConfig
from torch import nn

from trainer.build import build_callbacks, build_trainer, instantiate_component
from trainer.data.batches import TensorBatches
from trainer.engine import Trainer, TrainingModule
from trainer.engine.callbacks import EarlyStopping, ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint
from trainer.tasks.base import Objective
from trainer.tracking.base import Logger

#: What the networks are early-stopped and checkpointed on: ranking of the rare class, not loss.
MONITOR = "val/ap"


class ArraysDataModule:
    """Given train/val/test tensors as a datamodule (the Trainer needs only the loaders).

    Args:
        train, val, test: ``(features, labels)`` per split.
        batch_size: training batch size.
        eval_batch_size: batch size of validation and test.
        seed: seed of the batch order.
    """

    def __init__(
        self,
        *,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        test: tuple[torch.Tensor, torch.Tensor],
        batch_size: int,
        eval_batch_size: int,
        seed: int = 0,
    ) -> None:
        self.splits = {"train": train, "val": val, "test": test}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed

    def train_dataloader(self) -> TensorBatches:
        x, y = self.splits["train"]
        # Drop a last batch of one row: batch norm cannot train on it.
        drop_last = len(x) % self.batch_size == 1
        return TensorBatches(
            x, y, batch_size=self.batch_size, shuffle=True, seed=self.seed, drop_last=drop_last
        )

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(*self.splits["val"], batch_size=self.eval_batch_size)

    def test_dataloader(self) -> TensorBatches:
        return TensorBatches(*self.splits["test"], batch_size=self.eval_batch_size)

    def predict_dataloader(self) -> TensorBatches:
        return self.test_dataloader()


class GaussianNoise(nn.Module):
    """Adds ``N(0, std²)`` noise to the input while training (a denoising autoencoder's corruption)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.std > 0:
            return x + self.std * torch.randn_like(x)
        return x


class DenoisingAutoencoder(nn.Module):
    """An autoencoder whose training inputs are corrupted; the target stays the clean input."""

    def __init__(self, autoencoder: nn.Module, *, noise: float) -> None:
        super().__init__()
        self.noise = GaussianNoise(noise)
        self.autoencoder = autoencoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.autoencoder(self.noise(x))


@dataclass
class FittedNetwork:
    """A network after fit, holding its best checkpoint's weights (by validation AP)."""

    module: TrainingModule
    trainer: Trainer
    best_checkpoint: str
    best_val_ap: float | None

    @torch.inference_mode()
    def outputs(self, x: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
        """Raw network outputs for ``x`` in eval mode, on the CPU."""
        self.module.eval()
        device = self.trainer.device
        parts = [
            self.module(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)
        ]
        return torch.cat(parts) if parts else torch.empty(0)

    def scores(self, x: torch.Tensor) -> np.ndarray:
        """Per-row scores: probabilities for a classifier, reconstruction errors for an autoencoder."""
        objective = self.module.objective
        return objective.predict(objective.evaluation_outputs(self.outputs(x), x)).numpy()


def build_network(
    model_node: DictConfig,
    cfg: DictConfig,
    *,
    in_features: int,
    out_features: int,
    objective: Objective,
    categorical_cardinalities: Sequence[int] = (),
) -> TrainingModule:
    """Model from ``model_node``, optimizer and scheduler from ``cfg``, as a TrainingModule.

    ``categorical_cardinalities`` (the one-hot block widths) reach only a model whose signature
    declares them (an embedding model), as ``build.data_shape_arguments`` does for ``trainer train``.
    """
    extra: dict[str, Any] = {}
    if "categorical_cardinalities" in _parameters(str(model_node._target_)):
        extra["categorical_cardinalities"] = list(categorical_cardinalities)
    model = instantiate_component(
        model_node, "model", in_features=in_features, out_features=out_features, **extra
    )
    optimizer_factory = instantiate_component(cfg.optimizer, "optimizer")
    scheduler_factory = instantiate_component(cfg.scheduler, "scheduler") if cfg.scheduler else None
    return TrainingModule(
        model,
        objective,
        optimizer_factory=optimizer_factory,
        scheduler_factory=scheduler_factory,
        l1=cfg.regularization.l1,
        l2=cfg.regularization.l2,
    )


def _parameters(target: str) -> Sequence[str]:
    try:
        return list(inspect.signature(get_object(target)).parameters)
    except Exception:  # an unimportable target: instantiate names it
        return []


def fit_network(
    cfg: DictConfig,
    module: TrainingModule,
    data: ArraysDataModule,
    *,
    run_dir: Path,
    logger: Logger,
    patience: int,
    extra_callbacks: Sequence[Any] = (),
) -> FittedNetwork:
    """Fit with early stopping and best-checkpoint keeping on ``val/ap``, then load the best weights."""
    stopping = EarlyStopping(monitor=MONITOR, mode="max", patience=patience)
    checkpoint = ModelCheckpoint(monitor=MONITOR, mode="max", save_top_k=1, save_last=False)
    # Configured stoppers/checkpointers would watch another metric and compete with these two.
    configured = [cb for cb in build_callbacks(cfg) if not isinstance(cb, EarlyStopping | ModelCheckpoint)]
    callbacks = [*configured, stopping, checkpoint, *extra_callbacks]
    trainer = build_trainer(cfg, run_dir=run_dir, callbacks=callbacks, logger=logger)
    trainer.fit(module, data)
    best = checkpoint.best_model_path
    if best:  # the weights of the best validation AP, not of the last epoch
        module.model.load_state_dict(load_checkpoint(best)["model"])
    return FittedNetwork(module, trainer, best, checkpoint.best_model_score)
