"""TensorBatches: the batch order depends on (seed, epoch) alone and every row comes once per epoch."""

from __future__ import annotations

import pytest
import torch

from trainer.data import TensorBatches


def _loader(rows: int = 103, **options: object) -> TensorBatches:
    features = torch.arange(rows, dtype=torch.float32).unsqueeze(1)  # row i holds the value i
    labels = torch.arange(rows)
    options = {"batch_size": 10, **options}
    return TensorBatches(features, labels, **options)  # type: ignore[arg-type]


def _order(loader: TensorBatches, epoch: int) -> list[int]:
    loader.set_epoch(epoch)
    return [int(v) for x, _ in loader for v in x[:, 0]]


def test_shuffled_order_is_a_function_of_seed_and_epoch() -> None:
    first, second = _loader(shuffle=True, seed=7), _loader(shuffle=True, seed=7)
    assert _order(first, 0) == _order(second, 0)
    assert _order(first, 3) == _order(second, 3)
    assert _order(first, 0) != _order(first, 1)  # a new order each epoch
    assert _order(first, 2) == _order(_loader(shuffle=True, seed=7), 2)  # no hidden state
    assert _order(_loader(shuffle=True, seed=8), 0) != _order(first, 0)


def test_every_row_once_per_epoch_with_its_own_label() -> None:
    loader = _loader(shuffle=True, seed=1)
    for epoch in range(3):
        loader.set_epoch(epoch)
        seen: list[int] = []
        for x, y in loader:
            assert torch.equal(x[:, 0].long(), y)  # features and labels stay paired
            seen += y.tolist()
        assert sorted(seen) == list(range(103))
        assert seen != list(range(103))


def test_batch_sizes_and_length() -> None:
    loader = _loader()
    sizes = [len(x) for x, _ in loader]
    assert len(loader) == 11 and sizes == [10] * 10 + [3]
    assert _order(loader, 0) == list(range(103))  # no shuffle: table order
    dropped = _loader(drop_last=True, shuffle=True)
    assert len(dropped) == 10 and [len(x) for x, _ in dropped] == [10] * 10


def test_moving_and_unshuffling_keep_the_epoch_and_the_rows() -> None:
    loader = _loader(shuffle=True, seed=3)
    loader.set_epoch(4)
    moved = loader.to(torch.device("cpu"))
    assert moved.epoch == 4 and _order(moved, 4) == _order(loader, 4)
    plain = loader.without_shuffle()
    assert not plain.shuffle and loader.shuffle
    assert [int(v) for x, _ in plain for v in x[:, 0]] == list(range(103))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="103 feature rows but 5 labels"):
        TensorBatches(torch.zeros(103, 1), torch.zeros(5), batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        _loader(batch_size=0)
