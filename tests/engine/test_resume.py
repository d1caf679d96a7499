"""A run stopped after epoch k and resumed from last.ckpt ends bit-for-bit like one that never stopped."""

from __future__ import annotations

import functools

import pytest
import torch
from torch.optim import lr_scheduler

from trainer.engine import SchedulerSpec, Trainer
from trainer.engine.callbacks import EarlyStopping, ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint
from trainer.engine.seed import seed_everything
from trainer.errors import UserError

TOTAL_EPOCHS = 5
STOP_AFTER = 2


def _step_lr(optimizer, plan, *, interval):
    # Independent of plan.max_epochs on purpose: the first leg of a resumed run is planned
    # for fewer epochs than the whole, and a schedule sized from the plan would differ.
    step_size = 2 if interval == "epoch" else 5
    return SchedulerSpec(lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.5), interval=interval)


class Recorder:
    """A stateful callback without a base class: its state travels in checkpoints too."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, trainer, module, loss):
        self.batches += 1

    def state_dict(self):
        return {"batches": self.batches}

    def load_state_dict(self, state):
        self.batches = state["batches"]


def _run(
    datamodule, module, directory, *, max_epochs, interval, ckpt_path=None, seed=7, flip_val=False, **es
):
    seed_everything(seed)
    mod = module(
        "binary",
        hidden_sizes=(16, 16),
        dropout=0.3,
        optimizer_factory=functools.partial(torch.optim.Adam, lr=0.01),
        scheduler_factory=functools.partial(_step_lr, interval=interval),
        seed=None,  # seeded just above
    )
    dm = datamodule("binary", shuffle=True, seed=3)
    if flip_val:
        x, y = dm.val
        dm.val = (x, 1.0 - y)
    stopper = EarlyStopping(monitor="val/loss", **({"patience": 100} | es))
    checkpoint = ModelCheckpoint(dirpath=str(directory), monitor="val/loss", save_top_k=2, save_last=True)
    recorder = Recorder()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        callbacks=[recorder, stopper, checkpoint],
        default_root_dir=directory,
    )
    trainer.fit(mod, dm, ckpt_path=ckpt_path)
    return trainer, mod, stopper, checkpoint, recorder


def _assert_same_weights(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_resume_matches_an_uninterrupted_run_exactly(interval, datamodule, module, tmp_path):
    whole, whole_mod, whole_es, whole_ckpt, whole_rec = _run(
        datamodule, module, tmp_path / "whole", max_epochs=TOTAL_EPOCHS, interval=interval
    )
    first, _, _, _, _ = _run(datamodule, module, tmp_path / "split", max_epochs=STOP_AFTER, interval=interval)
    last = tmp_path / "split" / "last.ckpt"
    assert load_checkpoint(last)["epoch"] == STOP_AFTER
    # Another seed before building the second leg: everything must come from the checkpoint.
    resumed, resumed_mod, resumed_es, resumed_ckpt, resumed_rec = _run(
        datamodule,
        module,
        tmp_path / "split",
        max_epochs=TOTAL_EPOCHS,
        interval=interval,
        ckpt_path=last,
        seed=1234,
    )

    _assert_same_weights(resumed_mod, whole_mod)
    assert resumed.current_epoch == whole.current_epoch == TOTAL_EPOCHS
    assert resumed.global_step == whole.global_step == TOTAL_EPOCHS * 8
    # The resumed leg saw exactly the epochs the whole run saw after epoch k.
    assert first.history == whole.history[:STOP_AFTER]
    assert resumed.history == whole.history[STOP_AFTER:]
    # Optimizer moments, schedule and learning rate.
    whole_opt, resumed_opt = whole.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert whole_opt["param_groups"] == resumed_opt["param_groups"]
    for key, state in whole_opt["state"].items():
        for name, value in state.items():
            assert torch.equal(value, resumed_opt["state"][key][name]), (key, name)
    assert whole.scheduler_spec.scheduler.state_dict() == resumed.scheduler_spec.scheduler.state_dict()
    # Callback state: early stopping, checkpoints and a base-class-free callback.
    assert (resumed_es.best, resumed_es.wait) == (whole_es.best, whole_es.wait)
    assert resumed_ckpt.best_model_score == whole_ckpt.best_model_score
    assert resumed_rec.batches == whole_rec.batches == TOTAL_EPOCHS * 8
    # And the RNG stream continues where the uninterrupted run's is.
    after_resumed = torch.rand(4)
    _run(datamodule, module, tmp_path / "again", max_epochs=TOTAL_EPOCHS, interval=interval)
    assert torch.equal(torch.rand(4), after_resumed)


def test_early_stopping_patience_carries_over_a_resume(datamodule, module, tmp_path):
    # Validation against the training rule: val/loss gets worse after the first epochs, so
    # with patience 3 the whole run stops early; the resumed run must stop at the same epoch.
    whole, whole_mod, whole_es, _, _ = _run(
        datamodule, module, tmp_path / "whole", max_epochs=10, interval="epoch", flip_val=True, patience=3
    )
    assert whole.current_epoch < 10
    _run(
        datamodule,
        module,
        tmp_path / "split",
        max_epochs=STOP_AFTER,
        interval="epoch",
        flip_val=True,
        patience=3,
    )
    resumed, resumed_mod, resumed_es, _, _ = _run(
        datamodule,
        module,
        tmp_path / "split",
        max_epochs=10,
        interval="epoch",
        flip_val=True,
        patience=3,
        ckpt_path=tmp_path / "split" / "last.ckpt",
    )
    assert resumed.current_epoch == whole.current_epoch
    assert resumed_es.stopped_epoch == whole_es.stopped_epoch
    _assert_same_weights(resumed_mod, whole_mod)


def test_restore_best_weights_survives_a_resume(datamodule, module, tmp_path):
    # The best epoch falls before the resume point; the resumed run must still end on it.
    kwargs = {"interval": "epoch", "flip_val": True, "patience": 100, "restore_best_weights": True}
    whole, whole_mod, _, _, _ = _run(
        datamodule, module, tmp_path / "whole", max_epochs=TOTAL_EPOCHS, **kwargs
    )
    losses = [row["val/loss"] for row in whole.history]
    assert losses.index(min(losses)) < STOP_AFTER
    _run(datamodule, module, tmp_path / "split", max_epochs=STOP_AFTER, **kwargs)
    _, resumed_mod, _, _, _ = _run(
        datamodule,
        module,
        tmp_path / "split",
        max_epochs=TOTAL_EPOCHS,
        ckpt_path=tmp_path / "split" / "last.ckpt",
        **kwargs,
    )
    _assert_same_weights(resumed_mod, whole_mod)


def test_resuming_a_finished_run_trains_no_further(datamodule, module, tmp_path):
    first, first_mod, _, _, _ = _run(datamodule, module, tmp_path, max_epochs=3, interval="epoch")
    before = {k: v.clone() for k, v in first_mod.model.state_dict().items()}
    again, again_mod, _, _, _ = _run(
        datamodule, module, tmp_path, max_epochs=3, interval="epoch", ckpt_path=tmp_path / "last.ckpt"
    )
    assert again.current_epoch == 3
    assert again.global_step == first.global_step
    assert again.history == []
    assert all(torch.equal(before[k], v) for k, v in again_mod.model.state_dict().items())


def test_resuming_at_max_steps_trains_no_further(datamodule, module, tmp_path):
    ckpt = ModelCheckpoint(dirpath=str(tmp_path), monitor=None)
    trainer = Trainer(
        accelerator="cpu", max_epochs=10, max_steps=8, callbacks=[ckpt], default_root_dir=tmp_path
    )
    trainer.fit(module("binary"), datamodule("binary"))
    resumed = Trainer(accelerator="cpu", max_epochs=10, max_steps=8, default_root_dir=tmp_path)
    mod = module("binary", seed=5)
    resumed.fit(mod, datamodule("binary"), ckpt_path=tmp_path / "last.ckpt")
    assert resumed.global_step == 8
    assert resumed.history == []
    saved = load_checkpoint(tmp_path / "last.ckpt")["model"]
    assert all(torch.equal(saved[k], v) for k, v in mod.model.state_dict().items())


def test_resuming_a_onecycle_run_to_more_epochs(datamodule, module, tmp_path):
    from trainer.optim.schedulers import onecycle

    def build():
        return module("binary", scheduler_factory=functools.partial(onecycle, max_lr=0.05))

    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), monitor=None)
    Trainer(accelerator="cpu", max_epochs=2, callbacks=[checkpoint], default_root_dir=tmp_path).fit(
        build(), datamodule("binary")
    )
    resumed = Trainer(accelerator="cpu", max_epochs=5, default_root_dir=tmp_path)
    # The 1cycle schedule was sized for 2 epochs: stretching it is refused with a clear message.
    with pytest.raises(UserError, match=r"total_steps=16.*cannot be stretched"):
        resumed.fit(build(), datamodule("binary"), ckpt_path=tmp_path / "last.ckpt")


def test_resuming_an_interrupted_onecycle_run_matches_an_uninterrupted_one(datamodule, module, tmp_path):
    from trainer.optim.schedulers import onecycle

    def build():
        seed_everything(3)
        return module("binary", scheduler_factory=functools.partial(onecycle, max_lr=0.05))

    straight = build()
    Trainer(accelerator="cpu", max_epochs=4, default_root_dir=tmp_path / "a").fit(
        straight, datamodule("binary")
    )

    # Interrupted after epoch 2 (max_steps), then resumed with the same max_epochs: same plan.
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "b"), monitor=None)
    first = build()
    Trainer(
        accelerator="cpu",
        max_epochs=4,
        max_steps=2 * 8,
        callbacks=[checkpoint],
        default_root_dir=tmp_path / "b",
    ).fit(first, datamodule("binary"))
    resumed_module = build()
    resumed = Trainer(accelerator="cpu", max_epochs=4, default_root_dir=tmp_path / "b")
    resumed.fit(resumed_module, datamodule("binary"), ckpt_path=tmp_path / "b" / "last.ckpt")
    assert resumed.global_step == 4 * 8
    for a, b in zip(straight.state_dict().values(), resumed_module.state_dict().values(), strict=True):
        assert torch.equal(a, b)
