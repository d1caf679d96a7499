"""What a loader may offer the Trainer, declared: one small protocol per capability.

A loader is anything that iterates ``(x, y)`` batches. The Trainer does more with one that
offers more: it moves a :class:`Movable` loader to the device once, serves each process its
part of a :class:`Shardable` one, puts an :class:`EpochSeeded` and :class:`Resumable` one back
at the batch a checkpoint stopped at, and validates ``overfit_batches`` on an
:class:`Unshufflable` one in a fixed order. The project's loaders (``TensorBatches``,
``EpochDataLoader``, ``WindowBatches``, ``AugmentedBatches``) satisfy them structurally; the
protocols are ``runtime_checkable`` so that the Trainer asks ``isinstance`` instead of probing
attribute names.

They live in ``data/`` (not ``engine/``) because a wrapping loader here (``AugmentedBatches``)
asks the same questions of the loader it wraps, and ``data/`` imports nothing from ``engine/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any, Protocol, Self, runtime_checkable

import torch


@runtime_checkable
class Movable(Protocol):
    """A loader that moves its data (or pins its memory) for one device, once."""

    def to(self, device: torch.device) -> Self: ...


@runtime_checkable
class Shardable(Protocol):
    """A loader that serves one process's part of each epoch in a run of several."""

    def shard(self, rank: int, world_size: int, *, even: bool) -> Self:
        """A copy serving ``rank``'s part; ``even`` pads every part to one length (training)."""
        ...


@runtime_checkable
class Unshufflable(Protocol):
    """A loader that can serve its batches in a fixed order (``overfit_batches``)."""

    def without_shuffle(self) -> Iterable[Any]: ...


@runtime_checkable
class EpochSeeded(Protocol):
    """A loader (or a torch sampler) whose order depends on ``(seed, epoch)`` alone."""

    def set_epoch(self, epoch: int) -> None: ...


@runtime_checkable
class Resumable(Protocol):
    """A loader that can begin its next pass at a batch without producing the ones before it."""

    def start_at(self, batch: int) -> None: ...


@runtime_checkable
class BatchSized(Protocol):
    """A loader that knows its (full) batch size; ``None`` when it cannot tell."""

    @property
    def batch_size(self) -> int | None: ...


@runtime_checkable
class Sampled(Protocol):
    """A torch ``DataLoader``-like loader that draws its rows from a sampler."""

    @property
    def sampler(self) -> Any: ...


class ResumableLoader(Movable, Shardable, EpochSeeded, Resumable, BatchSized, Sized, Iterable[Any], Protocol):
    """Everything a training loader needs to resume mid-epoch exactly, in one or many processes.

    ``TensorBatches``, ``EpochDataLoader`` and ``AugmentedBatches`` are such loaders;
    ``WindowBatches`` has no ``start_at`` (a resume reads and skips its first batches).
    """

    def __iter__(self) -> Iterator[Any]: ...
