"""CUDA-only GPU awareness: peak memory per epoch, compile with mixed precision, exact mid-epoch resume.

Skipped without CUDA; run where a GPU is lent with ``pytest -m gpu tests/engine``.
"""

from __future__ import annotations

import functools

import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.callbacks import ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs CUDA: torch.cuda.is_available() is False"
    ),
]


def test_peak_memory_and_speed_are_logged_per_epoch(datamodule, module, memory_logger, tmp_path):
    trainer = Trainer(accelerator="cuda", max_epochs=2, logger=memory_logger, default_root_dir=tmp_path)
    trainer.fit(module("binary"), datamodule("binary"))
    peaks = memory_logger.series("perf/peak_memory_mb")
    assert [step for step, _ in peaks] == [8, 16]
    assert all(0 < mb < torch.cuda.get_device_properties(0).total_memory / 2**20 for _, mb in peaks)
    assert all(rate > 0 for _, rate in memory_logger.series("perf/samples_per_sec"))


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_compile_with_mixed_precision_trains_and_saves_plain_keys(precision, datamodule, module, tmp_path):
    mod = module("binary", dropout=0.1, optimizer_factory=functools.partial(torch.optim.Adam, lr=0.03))
    keys = list(mod.model.state_dict())
    trainer = Trainer(
        accelerator="cuda",
        precision=precision,
        max_epochs=4,
        compile=True,
        tf32=True,
        cudnn_benchmark=True,
        callbacks=[ModelCheckpoint(dirpath=str(tmp_path), monitor=None)],
        default_root_dir=tmp_path,
    )
    trainer.fit(mod, datamodule("binary"))
    losses = [row["train/loss"] for row in trainer.history]
    assert losses[-1] < losses[0]
    assert list(load_checkpoint(tmp_path / "last.ckpt")["model"]) == keys


def test_mid_epoch_resume_on_cuda_with_fp16_matches(datamodule, module, tmp_path):
    def run(directory, ckpt_path=None, **options):
        mod = module("binary", dropout=0.2, optimizer_factory=functools.partial(torch.optim.Adam, lr=0.01))
        trainer = Trainer(
            accelerator="cuda",
            precision="16-mixed",
            max_epochs=3,
            accumulate_grad_batches=2,
            deterministic=True,
            callbacks=[ModelCheckpoint(dirpath=str(directory), monitor=None)],
            default_root_dir=directory,
            **options,
        )
        trainer.fit(mod, datamodule("binary"), ckpt_path=ckpt_path)
        return trainer, mod

    whole, whole_mod = run(tmp_path / "whole")
    run(tmp_path / "split", max_steps=6)  # epoch 2, after batch 4 of 8
    assert load_checkpoint(tmp_path / "split" / "last.ckpt")["progress"]["batch"] == 4
    resumed, resumed_mod = run(tmp_path / "split", ckpt_path=tmp_path / "split" / "last.ckpt")
    assert resumed.grad_scaler.get_scale() == whole.grad_scaler.get_scale()
    for name, value in whole_mod.model.state_dict().items():
        assert torch.equal(value, resumed_mod.model.state_dict()[name]), name
