"""A loss that turns NaN or infinite stops the run with a message for people; good checkpoints survive."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim import lr_scheduler

from trainer.engine import SchedulerSpec, Trainer
from trainer.engine.callbacks import ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint
from trainer.errors import NonFiniteLossError, UserError


def _blow_up_in_epoch_2(factor: float):
    """A schedule that keeps the rate for epoch 1 and multiplies it by ``factor`` from epoch 2 on."""

    def make(optimizer, plan):
        return SchedulerSpec(lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 if epoch < 1 else factor))

    return make


class Events:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.exception: BaseException | None = None

    def on_exception(self, trainer, module, exception):
        self.names.append("on_exception")
        self.exception = exception

    def on_fit_end(self, trainer, module):
        self.names.append("on_fit_end")


# A rate of inf turns the weights into +-inf/NaN, so the next loss is NaN; 1e38 keeps them
# finite but huge, so the next loss overflows to inf.
@pytest.mark.parametrize(("factor", "shown"), [(math.inf, "nan"), (1e38, "inf")])
def test_non_finite_loss_names_epoch_step_and_fixes(factor, shown, datamodule, module, tmp_path, recwarn):
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), monitor="val/loss", save_top_k=1)
    events = Events()
    trainer = Trainer(
        accelerator="cpu", max_epochs=3, callbacks=[checkpoint, events], default_root_dir=tmp_path
    )
    mod = module("regression", scheduler_factory=_blow_up_in_epoch_2(factor))

    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(mod, datamodule("regression"))

    message = str(info.value)
    # Epoch 2's first step ran at the huge rate; its second batch (batch 1) is step 8 + 2.
    assert f"The training loss became {shown} at epoch 2, step 10 (batch 1)." in message
    assert "lower the learning rate (optimizer.lr)" in message
    assert "clip gradients (trainer.gradient_clip_val=1.0)" in message
    assert f"The last good checkpoint is kept at {tmp_path / 'last.ckpt'}" in message
    assert isinstance(info.value, UserError)  # the CLI prints it without a traceback
    # Callbacks hear of it; fit does not pretend to have ended normally.
    assert events.names == ["on_exception"]
    assert events.exception is info.value
    assert not [w for w in recwarn.list if "requires_grad" in str(w.message)]

    # The checkpoint from epoch 1 is intact, loadable and finite.
    state = load_checkpoint(tmp_path / "last.ckpt")
    assert state["epoch"] == 1
    assert state["global_step"] == 8
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert math.isfinite(state["metrics"]["val/loss"])
    restored = module("regression", seed=1)
    metrics = Trainer(accelerator="cpu", default_root_dir=tmp_path).validate(
        restored, datamodule("regression"), ckpt_path=tmp_path / "last.ckpt"
    )
    assert metrics["val/loss"] == pytest.approx(state["metrics"]["val/loss"], rel=1e-5)
    assert len(list(tmp_path.glob("epoch_*.ckpt"))) == 1


def test_without_a_checkpoint_the_message_says_nothing_about_one(datamodule, module, tmp_path):
    trainer = Trainer(accelerator="cpu", max_epochs=3, default_root_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match="at epoch 2, step 10") as info:
        trainer.fit(
            module("regression", scheduler_factory=_blow_up_in_epoch_2(math.inf)), datamodule("regression")
        )
    assert "checkpoint" not in str(info.value)


def test_nan_inputs_stop_at_the_first_batch(datamodule, module, tmp_path):
    dm = datamodule("binary", shuffle=False)
    x, y = dm.train
    x = x.clone()
    x[40, 2] = math.nan  # in the second batch of 32
    dm.train = (x, y)
    trainer = Trainer(accelerator="cpu", max_epochs=2, default_root_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 1, step 2 \(batch 1\)"):
        trainer.fit(module("binary"), dm)
    assert trainer.global_step == 1
