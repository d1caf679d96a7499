"""Fixtures of the engine tests: tiny in-memory datamodules and modules built from real components.

Nothing here is a mock: the datamodule hands out real ``TensorBatches``, the module is a real
``TrainingModule`` over ``trainer.models.MLP`` and a ``trainer.tasks`` objective, and the
logger is a real (in-memory) implementation of ``trainer.tracking.base.Logger``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from trainer.data import TensorBatches
from trainer.engine import TrainingModule
from trainer.engine.seed import seed_everything
from trainer.models import MLP
from trainer.tasks import (
    BinaryObjective,
    MulticlassObjective,
    Objective,
    ReconstructionObjective,
    RegressionObjective,
)
from trainer.tracking.base import Logger

KINDS = ("binary", "multiclass", "regression", "reconstruction")
NUM_CLASSES = 3
IN_FEATURES = {"binary": 4, "multiclass": 4, "regression": 4, "reconstruction": 6}


def make_split(kind: str, rows: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An easy synthetic problem of ``kind``, drawn from its own generator (global RNG untouched)."""
    g = torch.Generator().manual_seed(seed)
    features = IN_FEATURES[kind]
    if kind == "reconstruction":
        # Rank-2 data in 6 columns: a 3-wide bottleneck can reconstruct it.
        code = torch.randn(rows, 2, generator=g)
        mixing = torch.tensor([[1.0, 0.5, -0.5, 0.2, 0.0, 1.0], [0.0, 1.0, 0.5, -1.0, 0.8, -0.3]])
        x = code @ mixing
        y = (code[:, 0] > 1.0).float()  # labels are not the target; two classes make AUC defined
        return x, y
    x = torch.randn(rows, features, generator=g)
    # Fixed directions (not drawn) so every split of a kind shares one true rule.
    w = torch.tensor([1.5, -2.0, 1.0, 0.5])
    if kind == "binary":
        return x, (x @ w > 0).float()
    if kind == "multiclass":
        weights = torch.tensor([[2.0, 0.0, -1.0, 0.5], [-1.0, 2.0, 0.0, 0.0], [0.0, -1.0, 2.0, -0.5]])
        return x, (x @ weights.T).argmax(dim=1)
    if kind == "regression":
        noise = 0.05 * torch.randn(rows, generator=g)
        return x, (x @ w + noise).unsqueeze(1)  # (rows, 1)
    raise ValueError(kind)


class TinyDataModule:
    """Train/val/test/predict splits of one synthetic problem, as ``TensorBatches``.

    Args:
        kind: objective the labels are made for.
        train_rows, val_rows, test_rows: rows of each split (0 for none).
        batch_size: rows per training batch.
        eval_batch_size: rows per evaluation batch.
        shuffle: shuffle training batches per epoch (order depends on ``seed`` and the epoch only).
        seed: seed of the data and of the shuffling.
    """

    def __init__(
        self,
        kind: str = "binary",
        *,
        train_rows: int = 256,
        val_rows: int = 128,
        test_rows: int = 96,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.train = make_split(kind, train_rows, seed=seed)
        self.val = make_split(kind, val_rows, seed=seed + 1) if val_rows else None
        self.test = make_split(kind, test_rows, seed=seed + 2) if test_rows else None

    def train_dataloader(self) -> TensorBatches:
        x, y = self.train
        return TensorBatches(x, y, batch_size=self.batch_size, shuffle=self.shuffle, seed=self.seed)

    def _eval(self, split: tuple[torch.Tensor, torch.Tensor] | None) -> TensorBatches | None:
        if split is None:
            return None
        return TensorBatches(*split, batch_size=self.eval_batch_size)

    def val_dataloader(self) -> TensorBatches | None:
        return self._eval(self.val)

    def test_dataloader(self) -> TensorBatches | None:
        return self._eval(self.test)

    def predict_dataloader(self) -> TensorBatches | None:
        return self._eval(self.test)


def make_objective(kind: str) -> Objective:
    return {
        "binary": BinaryObjective,
        "multiclass": MulticlassObjective,
        "regression": RegressionObjective,
        "reconstruction": ReconstructionObjective,
    }[kind]()


def make_module(
    kind: str = "binary",
    *,
    hidden_sizes: tuple[int, ...] = (16,),
    dropout: float = 0.0,
    optimizer_factory: Callable[..., torch.optim.Optimizer] | None = None,
    scheduler_factory: Callable[..., Any] | None = None,
    seed: int | None = 0,
) -> TrainingModule:
    """A small MLP for ``kind`` with its objective; seeded first so the weights are repeatable."""
    if seed is not None:
        seed_everything(seed)
    in_features = IN_FEATURES[kind]
    out_features = {"binary": 1, "multiclass": NUM_CLASSES, "regression": 1, "reconstruction": in_features}
    if kind == "reconstruction":
        hidden_sizes = (3,)  # a bottleneck, so the identity is not free
    model = MLP(
        in_features=in_features,
        out_features=out_features[kind],
        hidden_sizes=hidden_sizes,
        activation="tanh",
        dropout=dropout,
    )
    return TrainingModule(
        model,
        make_objective(kind),
        optimizer_factory=optimizer_factory or functools.partial(torch.optim.SGD, lr=0.1),
        scheduler_factory=scheduler_factory,
    )


class MemoryLogger(Logger):
    """A real, in-memory implementation of the Logger interface: keeps every point it is sent."""

    def __init__(self) -> None:
        self.points: list[tuple[int, str, float]] = []

    @property
    def run_id(self) -> str | None:
        return "memory-run"

    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
        resume_step: int | None = None,
        resume_from: Path | None = None,
    ) -> None:
        return None

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        return None

    def set_tags(self, tags: dict[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        self.points.extend((step, name, float(value)) for name, value in metrics.items())

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        return None

    def finalize(self, status: str) -> None:
        return None

    def series(self, name: str) -> list[tuple[int, float]]:
        return [(step, value) for step, key, value in self.points if key == name]


def weights(module: TrainingModule) -> dict[str, torch.Tensor]:
    """A detached copy of the model's state."""
    return {k: v.detach().clone() for k, v in module.model.state_dict().items()}


@pytest.fixture
def datamodule() -> Callable[..., TinyDataModule]:
    """Factory of :class:`TinyDataModule` (same arguments)."""
    return TinyDataModule


@pytest.fixture
def module() -> Callable[..., TrainingModule]:
    """Factory of small seeded TrainingModules (see :func:`make_module`)."""
    return make_module


@pytest.fixture
def memory_logger() -> MemoryLogger:
    return MemoryLogger()


@pytest.fixture
def snapshot() -> Callable[[TrainingModule], dict[str, torch.Tensor]]:
    return weights


@pytest.fixture(autouse=True)
def _restore_torch_globals() -> Iterator[None]:
    """Each test runs on one thread and leaves the RNG and the deterministic switch as it found them.

    One thread: on this project's 2-core machine, tiny ops pay more for waking a second
    thread than they gain (binary_cross_entropy_with_logits on 32 rows: 9 ms on 2 threads,
    0.06 ms on one).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = torch.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.set_rng_state(rng)
    torch.set_num_threads(threads)
    now = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    if now != (deterministic, warn_only):
        # Only when changed: the first call of use_deterministic_algorithms costs ~6 s here.
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
