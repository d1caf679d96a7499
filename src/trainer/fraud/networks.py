"""Train a network of the study through the real engine, early-stopped on a validation metric.

The study hands over tensors it prepared (resampled training rows, or normal rows only for
the autoencoder, and the untouched validation and test rows); :class:`ArraysDataModule` serves
them to the :class:`~trainer.engine.Trainer` like any datamodule, so each approach's run is
logged and checkpointed like a ``trainer train`` run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from trainer.build import build_callbacks, build_trainer
from trainer.data.batches import TensorBatches
from trainer.engine import Trainer, TrainingModule
from trainer.engine.callbacks import EarlyStopping, ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint
from trainer.tracking.base import Logger

#: What the networks are early-stopped and checkpointed on: ranking of the rare class, not loss.
MONITOR = "val/ap"


class ArraysDataModule:
    """Given train/val/test tensors as a datamodule: the loaders for the Trainer, and the
    shapes (:class:`~trainer.data.base.DataShape`) for :func:`~trainer.build.build_module_with`.

    Args:
        train, val, test: ``(features, labels)`` per split; the labels are 0/1 (fraud).
        batch_size: training batch size.
        eval_batch_size: batch size of validation and test.
        seed: seed of the batch order.
        categorical_cardinalities: the one-hot block widths of the table the rows come from
            (what an embedding model embeds).
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
        categorical_cardinalities: Sequence[int] = (),
    ) -> None:
        self.splits = {"train": train, "val": val, "test": test}
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self._cardinalities = list(categorical_cardinalities)

    @property
    def num_features(self) -> int:
        return int(self.splits["train"][0].shape[1])

    @property
    def num_classes(self) -> int:
        return 2  # normal and fraud

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.num_features,)

    @property
    def categorical_cardinalities(self) -> list[int]:
        return list(self._cardinalities)

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
    """A network after fit, holding its best checkpoint's weights (by the monitored metric)."""

    module: TrainingModule
    trainer: Trainer
    best_checkpoint: str
    best_score: float | None


@torch.inference_mode()
def network_outputs(module: TrainingModule, x: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
    """Raw outputs of ``module`` for ``x`` in eval mode, on the CPU."""
    module.eval()
    device = next(module.parameters()).device
    parts = [module(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0)


def network_scores(module: TrainingModule, x: torch.Tensor) -> np.ndarray:
    """Per-row scores: probabilities for a classifier, reconstruction errors for an autoencoder."""
    objective = module.objective
    return objective.predict(objective.evaluation_outputs(network_outputs(module, x), x)).numpy()


def network_trainer(
    cfg: DictConfig,
    *,
    run_dir: Path,
    logger: Logger,
    patience: int,
    monitor: str = MONITOR,
    mode: str = "max",
    extra_callbacks: Sequence[Any] = (),
) -> tuple[Trainer, ModelCheckpoint]:
    """The Trainer a network of the study fits with: the configured one, early-stopped and
    checkpointed on ``monitor``; and its checkpoint callback. Making it checks the options."""
    stopping = EarlyStopping(monitor=monitor, mode=mode, patience=patience)
    checkpoint = ModelCheckpoint(monitor=monitor, mode=mode, save_top_k=1, save_last=False)
    # Configured stoppers/checkpointers would watch another metric and compete with these two.
    configured = [cb for cb in build_callbacks(cfg) if not isinstance(cb, EarlyStopping | ModelCheckpoint)]
    callbacks = [*configured, stopping, checkpoint, *extra_callbacks]
    return build_trainer(cfg, run_dir=run_dir, callbacks=callbacks, logger=logger), checkpoint


def fit_network(
    cfg: DictConfig,
    module: TrainingModule,
    data: ArraysDataModule,
    *,
    run_dir: Path,
    logger: Logger,
    patience: int,
    monitor: str = MONITOR,
    mode: str = "max",
    extra_callbacks: Sequence[Any] = (),
) -> FittedNetwork:
    """Fit with early stopping and best-checkpoint keeping on ``monitor``, then load the best weights."""
    trainer, checkpoint = network_trainer(
        cfg,
        run_dir=run_dir,
        logger=logger,
        patience=patience,
        monitor=monitor,
        mode=mode,
        extra_callbacks=extra_callbacks,
    )
    trainer.fit(module, data)
    best = checkpoint.best_model_path
    if best:  # the weights of the best validation score, not of the last epoch
        module.model.load_state_dict(load_checkpoint(best)["model"])
    return FittedNetwork(module, trainer, best, checkpoint.best_model_score)
