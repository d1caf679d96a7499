"""Augmentation changes training batches only, keeps shapes, and is reproducible per epoch."""

from __future__ import annotations

import pytest
import torch

from trainer.data import ImageAugment, ImageDataModule
from trainer.data.base import AugmentedBatches
from trainer.errors import ConfigError


def _digits(**options: object) -> ImageDataModule:
    augment = ImageAugment(hflip=True, max_shift=1.0, max_rotation=10.0, noise_std=0.1)
    dm = ImageDataModule(name="digits", augment=augment, batch_size=32, **options)  # type: ignore[arg-type]
    dm.setup()
    return dm


@pytest.mark.parametrize("loader", ["device", "dataloader"])
def test_only_training_batches_are_augmented(loader: str) -> None:
    dm = _digits(loader=loader)
    train = dm.train_dataloader()
    assert isinstance(train, AugmentedBatches)
    x, _ = next(iter(train.without_shuffle()))  # the plain batch the augmented one starts from
    plain = AugmentedBatches(train.inner, lambda batch, _: batch)
    augmented_x, _ = next(iter(train))
    assert augmented_x.shape == x.shape == (32, 1, 8, 8)
    if loader == "device":  # same order: the augmented batch differs from the plain one
        assert torch.equal(next(iter(plain))[0], next(iter(train.inner))[0])
        assert not torch.allclose(augmented_x, next(iter(train.inner))[0])
    for split in ("val", "test"):
        served = torch.cat([batch[0] for batch in getattr(dm, f"{split}_dataloader")()])
        assert torch.equal(served, dm.tensors(split)[0])  # untouched
    predict = dm.predict_dataloader()
    assert not isinstance(predict, AugmentedBatches)


def test_draws_depend_on_the_epoch_only() -> None:
    train = _digits().train_dataloader()
    first = next(iter(train))[0]
    assert torch.equal(first, next(iter(train))[0])
    train.set_epoch(1)
    assert not torch.equal(first, next(iter(train))[0])


def test_each_transform_alone() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(64, 1, 1, 1)
    flipped = ImageAugment(hflip=True)(x, torch.Generator().manual_seed(0))
    assert {bool(torch.equal(f, x[0])) or bool(torch.equal(f, x[0].flip(-1))) for f in flipped} == {True}
    assert any(torch.equal(f, x[0].flip(-1)) for f in flipped) and any(torch.equal(f, x[0]) for f in flipped)
    shifted = ImageAugment(max_shift=1.0)(x, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape and not torch.allclose(shifted, x)
    noisy = ImageAugment(noise_std=0.5)(x, torch.Generator().manual_seed(0))
    assert 0.4 < float((noisy - x).std()) < 0.6
    assert not ImageAugment().active


def test_rotation_by_zero_and_no_shift_is_the_identity() -> None:
    x = torch.randn(8, 1, 8, 8)
    same = ImageAugment(max_rotation=1e-9, max_shift=0.0)(x, torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-5)


def test_out_of_range_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match="max_rotation"):
        ImageAugment(max_rotation=90)
    with pytest.raises(ConfigError, match="noise_std"):
        ImageAugment(noise_std=-1)
