"""Loader adaptation: what the Trainer does to a datamodule's loaders before it iterates them.

A loader only has to iterate batches. What else it offers is declared in
:mod:`trainer.data.loader_protocol` (``to``, ``shard``, ``without_shuffle``, ``set_epoch``,
``start_at``, ``batch_size``) and asked with ``isinstance``: the functions here move a loader to
the device, give a process its shard, serve the overfit batches, count the batches a stage runs
and put a training loader back at a checkpoint's position.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DistributedSampler

from trainer.data.loader_protocol import (
    BatchSized,
    EpochSeeded,
    Movable,
    Resumable,
    ResumableLoader,
    Sampled,
    Shardable,
    Unshufflable,
)
from trainer.errors import ConfigError, UserError

if TYPE_CHECKING:
    from trainer.data.base import AugmentedBatches
    from trainer.data.batches import EpochDataLoader, TensorBatches
    from trainer.data.windows import WindowBatches

log = logging.getLogger(__name__)

#: Batches of an iterable without a length when its limit is a fraction: all of them.
UNBOUNDED = 2**62


def to_device(loader: Any, device: torch.device) -> Any:
    """The loader with its data on ``device`` when it can move (tabular data moves once)."""
    return loader.to(device) if isinstance(loader, Movable) else loader


def shard(loader: Any, rank: int, world_size: int, *, stage: str) -> Any:
    """``rank``'s part of a split in a run of ``world_size`` processes.

    Training shards are padded to one length (every rank takes as many steps); evaluation
    shards are not (every row counts once when the ranks' rows are gathered).

    Raises:
        UserError: the loader can neither shard itself nor has a torch ``DistributedSampler``.
    """
    if isinstance(loader, Shardable):
        return loader.shard(rank, world_size, even=stage == "train")
    if isinstance(loader, Sampled) and isinstance(loader.sampler, DistributedSampler):
        return loader  # sharded by whoever built it
    raise UserError(
        f"The {stage} loader ({type(loader).__name__}) cannot be split across the "
        f"{world_size} processes of a DDP run: give it a shard(rank, world_size, even=...) "
        "method like trainer.data.TensorBatches, or a torch DistributedSampler."
    )


def unshuffled(loader: Any) -> Any:
    """The loader in a fixed order where it offers one (``overfit_batches`` trains and validates on it)."""
    return loader.without_shuffle() if isinstance(loader, Unshufflable) else loader


def batch_limit(total: int, limit: int | float) -> int:
    """Lightning's rule: a float is a fraction of the batches (at least one), an int a count.

    Raises:
        ConfigError: a float outside [0, 1].
    """
    if isinstance(limit, float):
        if not 0.0 <= limit <= 1.0:
            raise ConfigError(f"A batch limit of {limit} is neither a fraction in [0, 1] nor a count.")
        return min(total, max(1, int(total * limit))) if limit > 0 else 0
    return min(total, int(limit))


def batches_to_run(loader: Any, limit: int | float) -> int:
    """Batches a stage takes from ``loader`` under its ``limit_*_batches``."""
    try:
        total = len(loader)
    except TypeError:  # an iterable without a length: take the limit as a count
        return int(limit) if not isinstance(limit, float) else UNBOUNDED
    return batch_limit(total, limit)


def full_length(loader: Any) -> int:
    """Batches in the loader's whole epoch, or -1 when it has no length."""
    try:
        return len(loader)
    except TypeError:
        return -1


def batch_size_of(loader: Any) -> int | None:
    """The loader's full batch size, ``None`` when it does not say."""
    return loader.batch_size if isinstance(loader, BatchSized) else None


def position_loader(loader: Any, epoch: int, start: int) -> int:
    """Put ``loader`` at batch ``start`` of ``epoch``; return the batches the caller must still skip.

    An :class:`EpochSeeded` loader (this project's) gets the epoch, and a :class:`Resumable` one
    skips without producing anything. A torch loader whose sampler is epoch-seeded
    (``DistributedSampler``) gives the epoch to its sampler. Any other loader is read and its
    first ``start`` batches thrown away, which is exact only when its order is the same every
    epoch or a function of the epoch.
    """
    if isinstance(loader, EpochSeeded):
        loader.set_epoch(epoch)  # batch order depends on (seed, epoch) only
    elif isinstance(loader, Sampled) and isinstance(loader.sampler, EpochSeeded):
        loader.sampler.set_epoch(epoch)
    if start == 0:
        return 0
    if isinstance(loader, Resumable):
        loader.start_at(start)
        return 0
    log.info("The training loader cannot start mid-epoch; reading and skipping its first %d batches.", start)
    return start


if TYPE_CHECKING:

    def _declared(
        tensors: TensorBatches,
        torch_loader: EpochDataLoader,
        augmented: AugmentedBatches,
        windows: WindowBatches,
    ) -> None:
        """Never called: mypy checks here that this project's loaders satisfy the protocols."""
        resumable: list[ResumableLoader] = [tensors, torch_loader, augmented]
        unshufflable: list[Unshufflable] = [tensors, augmented, windows]
        windowed: tuple[Movable, Shardable, EpochSeeded, BatchSized] = (windows, windows, windows, windows)
        del resumable, unshufflable, windowed
