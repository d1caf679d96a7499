"""Fixtures of the diagnostics tests: tiny real datamodules, modules and an in-memory Logger.

Nothing is mocked: batches are real ``TensorBatches``, modules real ``TrainingModule``s over
``trainer.models.MLP`` or small custom networks, and the logger a real ``tracking.base.Logger``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from trainer.data import TensorBatches
from trainer.engine import TrainingModule
from trainer.tasks import Objective, RegressionObjective
from trainer.tracking.base import Logger


def linear_problem(rows: int, *, seed: int = 0, features: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """``y = x @ w + small noise``: a least-squares problem whose curvature is known."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g)
    w = torch.linspace(-2.0, 2.0, features)
    return x, (x @ w + 0.1 * torch.randn(rows, generator=g)).unsqueeze(1)


def classes_problem(rows: int, *, seed: int = 0, features: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes separated by fixed directions."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g)
    directions = torch.eye(3, features) * 2.0
    return x, (x @ directions.T).argmax(dim=1)


class TensorDataModule:
    """Train and val splits served as ``TensorBatches`` (and ``tensors(split)`` like the real one)."""

    def __init__(
        self,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        *,
        batch_size: int = 32,
    ) -> None:
        self._splits = {"train": train, "val": val}
        self.batch_size = batch_size

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self._splits[split]

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(*self._splits["train"], batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(*self._splits["val"], batch_size=256)

    def test_dataloader(self) -> None:
        return None


def make_module(
    model: nn.Module, objective: Objective | None = None, *, lr: float = 0.1, optimizer: Any = None
) -> TrainingModule:
    factory = optimizer or functools.partial(torch.optim.SGD, lr=lr)
    return TrainingModule(model, objective or RegressionObjective(), optimizer_factory=factory)


class MemoryLogger(Logger):
    """Keeps every metric point, tag and artifact path it is sent."""

    def __init__(self) -> None:
        self.points: list[tuple[int, str, float]] = []
        self.artifacts: list[Path] = []
        self.tags: dict[str, Any] = {}

    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
        resume_step: int | None = None,
        resume_from: Path | None = None,
        run_key: str | None = None,
    ) -> None:
        return None

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        return None

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.tags.update(tags)

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        self.points.extend((step, k, float(v)) for k, v in metrics.items())

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        self.artifacts.append(Path(path))

    def finalize(self, status: str) -> None:
        return None

    def names(self) -> set[str]:
        return {name for _, name, _ in self.points}


@pytest.fixture
def memory_logger() -> MemoryLogger:
    return MemoryLogger()


@pytest.fixture
def classes_data() -> TensorDataModule:
    return TensorDataModule(classes_problem(256, seed=0), classes_problem(128, seed=1))
