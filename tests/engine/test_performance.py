"""GPU-awareness options that also work on the CPU: compile, speed metrics, backend switches."""

from __future__ import annotations

import functools
import shutil

import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.callbacks import ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint
from trainer.engine.performance import backend_switches
from trainer.errors import ConfigError


def test_samples_per_second_is_logged_once_per_epoch(datamodule, module, memory_logger, tmp_path):
    trainer = Trainer(accelerator="cpu", max_epochs=3, logger=memory_logger, default_root_dir=tmp_path)
    trainer.fit(module("binary"), datamodule("binary", train_rows=250))  # 7 full batches of 32 + 26
    rates = memory_logger.series("perf/samples_per_sec")
    assert [step for step, _ in rates] == [8, 16, 24]
    assert all(rate > 0 for _, rate in rates)
    assert memory_logger.series("perf/peak_memory_mb") == []  # CUDA only
    assert all(not key.startswith("perf/") for row in trainer.history for key in row)  # not monitored


def test_backend_switches_apply_during_fit_and_are_restored(datamodule, module, tmp_path):
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv  # type: ignore[attr-defined]
    before = (torch.backends.cudnn.benchmark, matmul.fp32_precision, conv.fp32_precision)
    seen = []

    class Look:
        def on_train_epoch_start(self, trainer, module):
            seen.append((torch.backends.cudnn.benchmark, matmul.fp32_precision, conv.fp32_precision))

    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        cudnn_benchmark=not before[0],
        tf32=True,
        callbacks=[Look()],
        default_root_dir=tmp_path,
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert seen == [(not before[0], "tf32", "tf32")]
    assert (torch.backends.cudnn.benchmark, matmul.fp32_precision, conv.fp32_precision) == before
    with backend_switches(cudnn_benchmark=None, tf32=None):  # None leaves everything alone
        assert (torch.backends.cudnn.benchmark, matmul.fp32_precision, conv.fp32_precision) == before


def test_cudnn_benchmark_and_deterministic_together_are_refused():
    with pytest.raises(ConfigError, match=r"cudnn_benchmark=true.*deterministic=true"):
        Trainer(accelerator="cpu", deterministic=True, cudnn_benchmark=True)


@pytest.mark.slow  # inductor compiles C++ kernels: about 30 s on this project's 2-core machine
@pytest.mark.skipif(
    not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
    reason="torch.compile on the CPU needs a C++ compiler (none on PATH)",
)
def test_compile_trains_and_checkpoints_keep_plain_keys(datamodule, module, tmp_path):
    from torch._dynamo.utils import counters

    mod = module("binary", dropout=0.1, optimizer_factory=functools.partial(torch.optim.Adam, lr=0.02))
    plain_keys = list(mod.model.state_dict())
    frames = counters["frames"]["ok"]
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=3,
        compile=True,
        callbacks=[ModelCheckpoint(dirpath=str(tmp_path), monitor=None)],
        default_root_dir=tmp_path,
    )
    trainer.fit(mod, datamodule("binary"))
    assert counters["frames"]["ok"] > frames  # dynamo really compiled the forward
    assert "forward" not in vars(mod.model)  # the module is plain again after fit
    losses = [row["train/loss"] for row in trainer.history]
    assert losses[-1] < losses[0]
    saved = load_checkpoint(tmp_path / "last.ckpt")["model"]
    assert list(saved) == plain_keys  # no _orig_mod. prefix: loads into an uncompiled model
    fresh = module("binary", dropout=0.1, seed=9)
    fresh.model.load_state_dict(saved)
