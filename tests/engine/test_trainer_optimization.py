"""Gradient accumulation and gradient clipping change the optimizer step exactly as documented."""

from __future__ import annotations

import functools

import pytest
import torch

from trainer.engine import Trainer
from trainer.errors import ConfigError


def _sgd(lr: float, momentum: float = 0.0):
    return functools.partial(torch.optim.SGD, lr=lr, momentum=momentum)


@pytest.mark.parametrize("shuffle", [False, True])
def test_accumulating_two_half_batches_equals_one_full_batch(shuffle, datamodule, module, snapshot, tmp_path):
    # TensorBatches draws one permutation of the rows per epoch whatever the batch size, so
    # two consecutive batches of 16 hold exactly the rows of one batch of 32, shuffled or not.
    results = []
    for batch_size, accumulate in ((32, 1), (16, 2)):
        dm = datamodule("regression", batch_size=batch_size, shuffle=shuffle)
        mod = module("regression", hidden_sizes=(8,), optimizer_factory=_sgd(0.05, momentum=0.9))
        trainer = Trainer(
            accelerator="cpu", max_epochs=3, accumulate_grad_batches=accumulate, default_root_dir=tmp_path
        )
        trainer.fit(mod, dm)
        assert trainer.global_step == 3 * 8  # optimizer steps, not batches
        results.append(snapshot(mod))
    full, accumulated = results
    for name in full:
        torch.testing.assert_close(accumulated[name], full[name], rtol=1e-5, atol=1e-6)


def test_without_accumulation_half_batches_give_different_weights(datamodule, module, snapshot, tmp_path):
    # The control of the test above: the equality there is not true of any two settings.
    results = []
    for batch_size in (32, 16):
        mod = module("regression", hidden_sizes=(8,), optimizer_factory=_sgd(0.05, momentum=0.9))
        Trainer(accelerator="cpu", max_epochs=3, default_root_dir=tmp_path).fit(
            mod, datamodule("regression", batch_size=batch_size, shuffle=False)
        )
        results.append(snapshot(mod))
    assert any(not torch.allclose(results[0][k], results[1][k], atol=1e-4) for k in results[0])


def test_a_partial_accumulation_window_still_steps_at_the_end_of_the_epoch(datamodule, module, tmp_path):
    dm = datamodule("binary", train_rows=160, batch_size=32)  # 5 batches
    trainer = Trainer(accelerator="cpu", max_epochs=2, accumulate_grad_batches=2, default_root_dir=tmp_path)
    trainer.fit(module("binary"), dm)
    assert trainer.global_step == 2 * 3  # steps after batches 2, 4 and 5 of each epoch


def _first_update(datamodule, module, tmp_path, **clip) -> torch.Tensor:
    """The change of all weights (flattened) after one SGD step with lr=1 on huge targets."""
    dm = datamodule("regression", shuffle=False)
    x, y = dm.train
    dm.train = (x, 1000.0 * y)  # a huge loss, so a huge gradient
    mod = module("regression", hidden_sizes=(8,), optimizer_factory=_sgd(1.0))
    before = torch.cat([p.detach().clone().reshape(-1) for p in mod.model.parameters()])
    Trainer(accelerator="cpu", max_steps=1, default_root_dir=tmp_path, **clip).fit(mod, dm)
    after = torch.cat([p.detach().reshape(-1) for p in mod.model.parameters()])
    return after - before  # = -lr * (clipped) gradient


def test_clipping_by_norm_bounds_the_update_and_keeps_its_direction(datamodule, module, tmp_path):
    free = _first_update(datamodule, module, tmp_path)
    clipped = _first_update(
        datamodule, module, tmp_path, gradient_clip_val=0.5, gradient_clip_algorithm="norm"
    )
    assert free.norm() > 100.0  # the unclipped step is huge
    assert clipped.norm() == pytest.approx(0.5, rel=1e-4)  # lr=1: the step is the clipped gradient
    torch.testing.assert_close(clipped, free * (0.5 / free.norm()), rtol=1e-4, atol=1e-7)


def test_clipping_by_value_bounds_each_element(datamodule, module, tmp_path):
    free = _first_update(datamodule, module, tmp_path)
    clipped = _first_update(
        datamodule, module, tmp_path, gradient_clip_val=0.01, gradient_clip_algorithm="value"
    )
    assert free.abs().max() > 1.0
    assert clipped.abs().max() <= 0.01 + 1e-7
    torch.testing.assert_close(clipped, free.clamp(-0.01, 0.01), rtol=1e-5, atol=1e-7)


def test_clip_value_zero_turns_clipping_off(datamodule, module, tmp_path):
    free = _first_update(datamodule, module, tmp_path)
    zero = _first_update(datamodule, module, tmp_path, gradient_clip_val=0.0, gradient_clip_algorithm="value")
    assert torch.equal(free, zero)


def test_unknown_clip_algorithm_is_a_config_error_with_the_choices():
    with pytest.raises(ConfigError, match=r"gradient_clip_algorithm='l2'; choose 'norm' or 'value'"):
        Trainer(accelerator="cpu", gradient_clip_val=1.0, gradient_clip_algorithm="l2")
