"""Batches sliced by index from tensors that live on the device.

A per-sample DataLoader collates each batch from Python objects; slicing a tensor that
already sits on the device costs one indexing kernel. Measured on this project's 2-core
CPU machine: about 10x faster at batch size 1024.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class TensorBatches:
    """Iterate ``(x, y)`` batches over tensors, shuffled per epoch from ``(seed, epoch)`` alone.

    The order depends only on the seed and the epoch number, so a run resumed at epoch k
    sees the same batches as one that never stopped.

    Args:
        features: ``(rows, ...)`` inputs.
        labels: ``(rows, ...)`` targets or labels.
        batch_size: rows per batch.
        shuffle: draw a new permutation each epoch.
        seed: base seed of the permutations.
        drop_last: skip a final partial batch (keeps batch norm away from 1-row batches).
    """

    def __init__(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if len(features) != len(labels):
            raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be 1 or more, got {batch_size}")
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def __len__(self) -> int:
        rows = len(self.features)
        return rows // self.batch_size if self.drop_last else math.ceil(rows / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def to(self, device: torch.device) -> TensorBatches:
        """A copy whose tensors live on ``device`` (moved once, not per batch)."""
        moved = TensorBatches(
            self.features.to(device),
            self.labels.to(device),
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            drop_last=self.drop_last,
        )
        moved.epoch = self.epoch
        return moved

    def without_shuffle(self) -> TensorBatches:
        copy = self.to(self.features.device)
        copy.shuffle = False
        return copy

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rows = len(self.features)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(rows, generator=generator).to(self.features.device)
            for start in range(0, len(self) * self.batch_size, self.batch_size):
                index = order[start : start + self.batch_size]
                yield self.features[index], self.labels[index]
        else:
            for start in range(0, len(self) * self.batch_size, self.batch_size):
                yield (
                    self.features[start : start + self.batch_size],
                    self.labels[start : start + self.batch_size],
                )
