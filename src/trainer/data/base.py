"""What build, train and reporting need from any datamodule, and a base for tensor-backed ones.

:class:`DataModule` is the protocol: a table, images, windows of a series or texts all expose
the same few things; :class:`DataShape`, the part a network's build reads, is its base. A few
capabilities only some data has (resampling training rows, one-hot block widths, the raw table
behind the inputs) are declared on them too, with the answer of data
that lacks them as their default; every datamodule of the package subclasses it, so build and
reporting ask instead of probing the type. :class:`TensorDataModule` serves in-memory splits
through device-resident batches or a torch ``DataLoader``, with optional augmentation of
training batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import torch
from torch.utils.data import TensorDataset

from trainer.data.batches import EpochDataLoader, TensorBatches
from trainer.data.loader_protocol import BatchSized, EpochSeeded, Movable, Unshufflable
from trainer.data.raw_table import RawTable
from trainer.errors import ConfigError, DataError
from trainer.tasks import MulticlassObjective

if TYPE_CHECKING:
    from trainer.data.resample import Resampler

SPLIT_NAMES = ("train", "val", "test")
LOADERS = ("device", "dataloader")


class DataShape(Protocol):
    """What building a network reads from its data: the widths and shapes of inputs and targets."""

    @property
    def num_features(self) -> int:
        """Width of a flattened input row (the vocabulary size for token ids)."""

    @property
    def num_classes(self) -> int:
        """How many classes; 0 for regression."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input without the batch dimension, e.g. ``(1, 28, 28)`` or ``(24, 1)``."""

    @property
    def categorical_cardinalities(self) -> list[int] | None:
        """Width of each categorical column's one-hot block, for an embedding model.

        None by default (the data is not a table with categorical columns to embed).
        """
        return None


class DataModule(DataShape, Protocol):
    """The datamodule interface build, train and reporting rely on (and nothing more).

    Attributes:
        task: the objective's name the data implies (``binary``, ``multiclass``, ``regression``...).
        classes_: class values in label-code order (empty for regression).
    """

    task: str
    classes_: list[Any]

    def setup(self) -> None:
        """Load, split and fit preprocessing on the training split (idempotent)."""

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, labels)`` of a split on the CPU (may materialise every sample)."""

    def labels(self, split: str) -> torch.Tensor:
        """Labels or targets of a split, in the order the loaders serve them unshuffled."""

    def train_dataloader(self) -> Any: ...

    def val_dataloader(self) -> Any | None: ...

    def test_dataloader(self) -> Any | None: ...

    def predict_dataloader(self) -> Any | None: ...

    def describe(self) -> dict[str, Any]:
        """``name``, ``source`` and sizes, for trackers."""

    def datasets(self) -> dict[str, pd.DataFrame]:
        """Frames per split that a tracker records as dataset inputs; empty when none fit."""

    def reference_metrics(self) -> dict[str, float]:
        """Test-split metrics of a yardstick the data defines (e.g. ``naive_mae``), no prefix."""

    # ------------------------------------------------------------------ optional capabilities
    # Defaults are the answers of data that lacks the capability; a table overrides them.
    def resample_training_rows(self, resampler: Resampler) -> None:
        """Replace the training rows with ``resampler``'s output (``resample=...``).

        Raises:
            ConfigError: by default: only table rows can be resampled.
        """
        raise ConfigError(f"resample.name={resampler.name} resamples table rows; use resample=none here.")

    def raw_table(self) -> RawTable | None:
        """The raw rows and fitted preprocessing behind the inputs (a packaged model scores them).

        None by default: the data is not a table.
        """
        return None


class AugmentedBatches:
    """A training loader whose batches pass through ``augment`` on the device they train on.

    It wraps device-resident :class:`TensorBatches` or a torch ``DataLoader``; the Trainer only
    ever asks a datamodule's ``train_dataloader`` for it, so validation, test and prediction
    batches are never augmented.

    Args:
        inner: the loader of un-augmented ``(x, y)`` batches.
        augment: called as ``augment(x, generator)``; returns a tensor shaped like ``x``.
        seed: base seed; the draw of each epoch depends on ``(seed, epoch)`` alone.
    """

    def __init__(self, inner: Any, augment: Any, *, seed: int = 0) -> None:
        self.inner = inner
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.start = 0  # first batch of the next pass (a mid-epoch resume)
        self.batch_size: int | None = inner.batch_size if isinstance(inner, BatchSized) else None
        self.device = torch.device("cpu")
        self.rank, self.world_size = 0, 1  # see shard()

    def __len__(self) -> int:
        return len(self.inner)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.start = 0
        if isinstance(self.inner, EpochSeeded):
            self.inner.set_epoch(epoch)

    def start_at(self, batch: int) -> None:
        """Begin the next pass at ``batch``; its draws are those the uninterrupted pass made there."""
        self.start = batch
        self.inner.start_at(batch)

    def to(self, device: torch.device) -> AugmentedBatches:
        inner = self.inner.to(device) if isinstance(self.inner, Movable) else self.inner
        return self._wrap(inner, torch.device(device))

    def shard(self, rank: int, world_size: int, *, even: bool) -> AugmentedBatches:
        """Augment ``rank``'s shard of the inner loader (see ``trainer.data.batches.shard_order``)."""
        moved = self._wrap(self.inner.shard(rank, world_size, even=even), self.device)
        moved.rank, moved.world_size = rank, world_size
        return moved

    def _wrap(self, inner: Any, device: torch.device) -> AugmentedBatches:
        moved = AugmentedBatches(inner, self.augment, seed=self.seed)
        moved.epoch, moved.device = self.epoch, device
        moved.rank, moved.world_size = self.rank, self.world_size
        return moved

    def without_shuffle(self) -> Any:
        # overfit_batches validates on the training batches: serve them plain and fixed.
        return self.inner.without_shuffle() if isinstance(self.inner, Unshufflable) else self.inner

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator(device=self.device)
        base = (self.seed * 1_000_003 + self.epoch + 7) * 1_000_003
        first, self.start = self.start, 0
        for index, (x, y) in enumerate(self.inner, first):
            # One seed per (seed, epoch, batch): a pass resumed at batch k draws what batch k drew.
            # In several processes each rank's part of global batch k draws its own.
            generator.manual_seed((base + index * self.world_size + self.rank) % 2**63)
            # A DataLoader yields CPU batches: move them first so the augmentation runs on the device.
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            yield self.augment(x, generator), y


class TensorDataModule(DataModule):
    """Shared loaders of datamodules whose splits are tensors in memory after ``setup``.

    Subclasses fill ``self._tensors[split] = (x, y)``, ``task``, ``classes_`` in ``setup``.

    Args:
        batch_size: training batch size.
        eval_batch_size: batch size for validation, test and prediction.
        loader: ``device`` (tensors moved to the device once, sliced by index) or ``dataloader``
            (a torch ``DataLoader`` with ``num_workers`` and pinned memory, batches moved one by one).
        num_workers: worker processes of the ``dataloader`` path.
        drop_last: drop the last partial training batch (keeps batch norm away from 1-row batches).
        seed: seed of the batch order and the augmentation draws.
    """

    task: str = MulticlassObjective.name

    def __init__(
        self,
        *,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        loader: str = "device",
        num_workers: int = 0,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError(
                f"data.batch_size={batch_size} and data.eval_batch_size={eval_batch_size} must be 1 or more."
            )
        if loader not in LOADERS:
            raise ConfigError(f"data.loader={loader!r} is not known; choose one of {', '.join(LOADERS)}.")
        if num_workers < 0:
            raise ConfigError(f"data.num_workers={num_workers} must be 0 or more.")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.loader = loader
        self.num_workers = num_workers
        self.drop_last = drop_last
        self.seed = seed
        self.classes_: list[Any] = []
        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._ready = False

    def setup(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    # ------------------------------------------------------------------ what build needs
    @property
    def input_shape(self) -> tuple[int, ...]:
        self.setup()
        return tuple(int(n) for n in self._tensors["train"][0].shape[1:])

    @property
    def num_features(self) -> int:
        return math.prod(self.input_shape)

    @property
    def num_classes(self) -> int:
        return len(self.classes_)

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        self.setup()
        return self._tensors[split]

    def labels(self, split: str) -> torch.Tensor:
        return self.tensors(split)[1]

    def datasets(self) -> dict[str, pd.DataFrame]:
        return {}

    def reference_metrics(self) -> dict[str, float]:
        return {}

    def augmentation(self) -> Any | None:
        """The training-batch augmentation, or ``None`` (subclasses with one override this)."""
        return None

    # ------------------------------------------------------------------ loaders
    def _plain_loader(self, split: str, *, train: bool) -> Any | None:
        x, y = self.tensors(split)
        if len(x) == 0:
            return None
        batch_size = self.batch_size if train else self.eval_batch_size
        drop_last = train and self.drop_last and len(x) > batch_size
        if self.loader == "dataloader":
            # Order from (seed, epoch) and a start batch, like TensorBatches: exact mid-epoch resume.
            return EpochDataLoader(
                TensorDataset(x, y),
                batch_size=batch_size,
                shuffle=train,
                seed=self.seed,
                drop_last=drop_last,
                num_workers=self.num_workers,
                pin_memory=torch.cuda.is_available(),  # the Trainer's .to(device) settles it
                persistent_workers=self.num_workers > 0,
            )
        return TensorBatches(x, y, batch_size=batch_size, shuffle=train, seed=self.seed, drop_last=drop_last)

    def train_dataloader(self) -> Any:
        loader = self._plain_loader("train", train=True)
        if loader is None:
            raise DataError("The training split is empty; lower data.val_fraction and data.test_fraction.")
        augment = self.augmentation()
        return loader if augment is None else AugmentedBatches(loader, augment, seed=self.seed)

    def val_dataloader(self) -> Any | None:
        return self._plain_loader("val", train=False)

    def test_dataloader(self) -> Any | None:
        return self._plain_loader("test", train=False)

    def predict_dataloader(self) -> Any | None:
        return self._plain_loader("test", train=False)

    def split_sizes(self) -> dict[str, int]:
        return {f"rows_{name}": len(self.tensors(name)[0]) for name in SPLIT_NAMES}
