"""The CUDA path: device-resident batches, autocast in fp16 (with a GradScaler) and bf16.

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


@pytest.mark.parametrize(
    ("precision", "dtype"), [("16-mixed", torch.float16), ("bf16-mixed", torch.bfloat16)]
)
def test_fit_on_cuda_with_mixed_precision(precision, dtype, datamodule, module, tmp_path):
    mod = module("binary", optimizer_factory=functools.partial(torch.optim.Adam, lr=0.03))
    seen: list[tuple[torch.dtype, str]] = []
    mod.model.net[0].register_forward_hook(lambda _m, _i, out: seen.append((out.dtype, out.device.type)))
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), monitor="val/loss")
    trainer = Trainer(
        accelerator="cuda",
        precision=precision,
        max_epochs=5,
        gradient_clip_val=1.0,  # exercises unscale-before-clip with the fp16 scaler
        callbacks=[checkpoint],
        default_root_dir=tmp_path,
    )
    trainer.fit(mod, datamodule("binary"))

    assert trainer.device.type == "cuda"
    assert set(seen) == {(dtype, "cuda")}
    assert trainer.grad_scaler.is_enabled() is (precision == "16-mixed")
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in mod.parameters())
    losses = [row["train/loss"] for row in trainer.history]
    assert losses[-1] < losses[0]
    assert trainer.callback_metrics["val/accuracy"] > 0.8

    state = load_checkpoint(tmp_path / "last.ckpt")
    assert all(t.device.type == "cpu" for t in state["model"].values())  # loads anywhere
    assert "cuda" in state["rng"]
    assert bool(state["grad_scaler"]) is (precision == "16-mixed")

    predictions = trainer.predict(mod, datamodule("binary"))
    assert predictions.device.type == "cpu"
    assert predictions.dtype == torch.float32
    assert torch.isfinite(predictions).all()


def test_resume_on_cuda_with_fp16_matches_an_uninterrupted_run(datamodule, module, tmp_path):
    def run(directory, max_epochs, ckpt_path=None):
        mod = module("binary", dropout=0.2, optimizer_factory=functools.partial(torch.optim.Adam, lr=0.01))
        trainer = Trainer(
            accelerator="cuda",
            precision="16-mixed",
            max_epochs=max_epochs,
            deterministic=True,
            callbacks=[ModelCheckpoint(dirpath=str(directory), monitor=None)],
            default_root_dir=directory,
        )
        trainer.fit(mod, datamodule("binary"), ckpt_path=ckpt_path)
        return trainer, mod

    whole, whole_mod = run(tmp_path / "whole", 4)
    run(tmp_path / "split", 2)
    resumed, resumed_mod = run(tmp_path / "split", 4, ckpt_path=tmp_path / "split" / "last.ckpt")
    assert resumed.grad_scaler.get_scale() == whole.grad_scaler.get_scale()
    for name, value in whole_mod.model.state_dict().items():
        assert torch.equal(value, resumed_mod.model.state_dict()[name]), name
