"""Loader adaptation (engine/loaders.py): declared protocols, not probes, and what each loader offers."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from trainer.data.base import AugmentedBatches
from trainer.data.batches import EpochDataLoader, TensorBatches
from trainer.data.loader_protocol import (
    BatchSized,
    EpochSeeded,
    Movable,
    Resumable,
    Sampled,
    Shardable,
    Unshufflable,
)
from trainer.data.windows import WindowBatches
from trainer.engine import loaders
from trainer.errors import ConfigError, UserError

CPU = torch.device("cpu")


def tensor_batches(rows: int = 10, *, shuffle: bool = True) -> TensorBatches:
    return TensorBatches(
        torch.arange(rows).float().unsqueeze(1), torch.arange(rows), batch_size=4, shuffle=shuffle
    )


def window_batches() -> WindowBatches:
    series = torch.arange(40.0).reshape(20, 2)
    return WindowBatches(
        series, series[:, 0], torch.arange(3, 18), torch.tensor([-3, -2, -1]), horizon=1, batch_size=4
    )


def epoch_loader() -> EpochDataLoader:
    return EpochDataLoader(TensorDataset(torch.zeros(10, 1), torch.zeros(10)), batch_size=4, shuffle=True)


def test_the_project_loaders_offer_what_the_trainer_asks_of_them():
    tensors, windows, torch_loader = tensor_batches(), window_batches(), epoch_loader()
    augmented = AugmentedBatches(tensors, lambda x, generator: x)
    full = (Movable, Shardable, EpochSeeded, Resumable, BatchSized)
    for loader in (tensors, torch_loader, augmented):
        assert all(isinstance(loader, protocol) for protocol in full), type(loader).__name__
    assert all(isinstance(windows, protocol) for protocol in (Movable, Shardable, EpochSeeded, BatchSized))
    assert not isinstance(windows, Resumable)  # a resume reads and skips its first batches
    assert isinstance(tensors, Unshufflable) and isinstance(windows, Unshufflable)
    assert not isinstance(torch_loader, Unshufflable)
    assert isinstance(torch_loader, Sampled)
    assert augmented.batch_size == 4  # asked of the inner loader through BatchSized


def test_a_plain_iterable_offers_nothing_and_is_served_as_it_is():
    batches = [(torch.zeros(2, 1), torch.zeros(2))] * 3
    assert loaders.to_device(batches, CPU) is batches
    assert loaders.unshuffled(batches) is batches
    assert loaders.batch_size_of(batches) is None
    assert loaders.full_length(iter(batches)) == -1


def test_shard_asks_the_loader_and_pads_only_training_shards():
    loader = tensor_batches(10)
    train = loaders.shard(loader, 1, 3, stage="train")
    val = loaders.shard(loader, 2, 3, stage="val")
    assert (train.rank, train.world_size, train.even) == (1, 3, True)
    assert (val.rank, val.world_size, val.even) == (2, 3, False)


def test_shard_keeps_a_torch_loader_with_a_distributed_sampler_and_refuses_anything_else():
    dataset = TensorDataset(torch.zeros(8, 1), torch.zeros(8))
    sampled = DataLoader(dataset, sampler=DistributedSampler(dataset, num_replicas=2, rank=0), batch_size=2)
    assert loaders.shard(sampled, 0, 2, stage="val") is sampled
    with pytest.raises(UserError, match=r"cannot be split across the 2 processes.*DistributedSampler"):
        loaders.shard(DataLoader(dataset, batch_size=2), 0, 2, stage="train")


@pytest.mark.parametrize(
    ("total", "limit", "expected"),
    [(10, 1.0, 10), (10, 0.25, 2), (10, 0.01, 1), (10, 0.0, 0), (10, 3, 3), (2, 5, 2)],
)
def test_batch_limit_reads_a_float_as_a_fraction_and_an_int_as_a_count(total, limit, expected):
    assert loaders.batch_limit(total, limit) == expected


def test_batch_limit_refuses_a_fraction_above_one():
    with pytest.raises(ConfigError, match="neither a fraction"):
        loaders.batch_limit(10, 1.5)


def test_batches_to_run_without_a_length_takes_the_limit_as_a_count():
    endless = iter([])
    assert loaders.batches_to_run(endless, 7) == 7
    assert loaders.batches_to_run(endless, 1.0) == loaders.UNBOUNDED
    assert loaders.batches_to_run(tensor_batches(10), 0.5) == 1  # half of 3 batches, rounded down


def test_position_loader_starts_a_resumable_loader_mid_epoch_without_reading_the_skipped_batches():
    loader = tensor_batches(10, shuffle=True)
    whole = [x for x, _ in loader]
    assert loaders.position_loader(loader, 0, 1) == 0
    resumed = [x for x, _ in loader]
    assert len(resumed) == len(whole) - 1
    assert all(torch.equal(a, b) for a, b in zip(resumed, whole[1:], strict=True))


def test_position_loader_sets_the_epoch_of_a_torch_loaders_sampler():
    dataset = TensorDataset(torch.zeros(8, 1), torch.zeros(8))
    sampler = DistributedSampler(dataset, num_replicas=2, rank=0)
    loader = DataLoader(dataset, sampler=sampler, batch_size=2)
    assert loaders.position_loader(loader, 3, 0) == 0
    assert sampler.epoch == 3


def test_position_loader_has_the_caller_skip_batches_of_a_loader_that_cannot_start_mid_epoch():
    assert loaders.position_loader(window_batches(), 2, 3) == 3
    assert loaders.position_loader([1, 2, 3], 0, 2) == 2
