"""Windows over a time series: lookback, horizon and sampling step, cut without looking ahead.

A window ending at row ``t`` (exclusive) has inputs at rows ``t - lookback .. t - 1`` taken
every ``step`` rows, always including ``t - 1`` (the last observed value), and its target at
row ``t - 1 + horizon``. Windows are cut inside one chronological split, so no input of a
training window comes from the validation or test period, and no input is later than its target.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from trainer.data.batches import shard_order, shard_rows
from trainer.errors import ConfigError, DataError


def check_window(*, lookback: int, horizon: int, step: int, stride: int) -> None:
    for key, value in (("lookback", lookback), ("horizon", horizon), ("step", step), ("stride", stride)):
        if value < 1:
            raise ConfigError(f"data.{key}={value} must be 1 or more.")
    if step > lookback:
        raise ConfigError(f"data.step={step} is longer than data.lookback={lookback}; lower data.step.")


def input_offsets(*, lookback: int, step: int) -> np.ndarray:
    """Row offsets of a window's inputs relative to its end ``t``: ascending, the last is -1."""
    return np.arange(-1, -lookback - 1, -step)[::-1].copy()


def window_ends(n_rows: int, *, lookback: int, horizon: int, stride: int = 1) -> np.ndarray:
    """Every window end ``t`` whose inputs and target lie in ``[0, n_rows)``, every ``stride`` rows."""
    last = n_rows - horizon  # target row t - 1 + horizon <= n_rows - 1
    return np.arange(lookback, last + 1, stride, dtype=np.int64)


def chronological_bounds(n_rows: int, *, val_fraction: float, test_fraction: float) -> dict[str, slice]:
    """Row ranges of train, val and test in time order (train first)."""
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 0.5:
            raise ConfigError(f"data.{key}={value} must be in (0, 0.5).")
    test_start = round(n_rows * (1 - test_fraction))
    val_start = round(n_rows * (1 - test_fraction - val_fraction))
    return {
        "train": slice(0, val_start),
        "val": slice(val_start, test_start),
        "test": slice(test_start, n_rows),
    }


class WindowBatches:
    """Batches of windows gathered on the fly from a series that lives on the device.

    Materialising every window would copy each row ``lookback / step`` times (gigabytes for
    the Jena series); gathering a batch by index arithmetic costs one indexing kernel.

    Args:
        series: ``(rows, features)`` normalised inputs.
        targets: ``(rows,)`` target values.
        ends: ``(windows,)`` window ends ``t`` (see the module docstring).
        offsets: ``(steps,)`` input offsets relative to ``t``.
        horizon: target row is ``t - 1 + horizon``.
        batch_size, shuffle, seed, drop_last: as for :class:`~trainer.data.batches.TensorBatches`.
    """

    def __init__(
        self,
        series: torch.Tensor,
        targets: torch.Tensor,
        ends: torch.Tensor,
        offsets: torch.Tensor,
        *,
        horizon: int,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.series, self.targets, self.ends, self.offsets = series, targets, ends, offsets
        self.horizon = horizon
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.rank, self.world_size, self.even = 0, 1, False  # see shard()

    def __len__(self) -> int:
        rows = len(self.ends)
        if self.world_size > 1:
            rows = shard_rows(rows, self.rank, self.world_size, even=self.even)
        return rows // self.batch_size if self.drop_last else math.ceil(rows / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _copy(self, device: torch.device, *, shuffle: bool) -> WindowBatches:
        moved = WindowBatches(
            self.series.to(device),
            self.targets.to(device),
            self.ends.to(device),
            self.offsets.to(device),
            horizon=self.horizon,
            batch_size=self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            drop_last=self.drop_last,
        )
        moved.epoch = self.epoch
        moved.rank, moved.world_size, moved.even = self.rank, self.world_size, self.even
        return moved

    def to(self, device: torch.device) -> WindowBatches:
        return self._copy(device, shuffle=self.shuffle)

    def without_shuffle(self) -> WindowBatches:
        return self._copy(self.series.device, shuffle=False)

    def shard(self, rank: int, world_size: int, *, even: bool) -> WindowBatches:
        """A copy that serves only ``rank``'s windows of each epoch (see ``batches.shard_order``)."""
        copy = self._copy(self.series.device, shuffle=self.shuffle)
        copy.rank, copy.world_size, copy.even = rank, world_size, even
        return copy

    def gather(self, ends: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(B, steps, features)`` and targets ``(B,)`` of the windows ending at ``ends``."""
        rows = ends[:, None] + self.offsets[None, :]  # (B, steps), every row < t
        return self.series[rows], self.targets[ends - 1 + self.horizon]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ends = self.ends
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            ends = ends[torch.randperm(len(ends), generator=generator).to(ends.device)]
        if self.world_size > 1:
            ends = shard_order(ends, self.rank, self.world_size, even=self.even)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.gather(ends[start : start + self.batch_size])


def fit_standardizer(train_rows: np.ndarray, *, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of the training period; a constant column is an error."""
    mean = train_rows.mean(axis=0)
    std = train_rows.std(axis=0)
    flat = [name for name, s in zip(columns, std, strict=True) if not s > 0]
    if flat:
        raise DataError(
            f"The input columns {flat} are constant over the training period; drop them with "
            "data.features=[...] (a constant column cannot be standardised)."
        )
    return mean, std
