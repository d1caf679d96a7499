"""Runs stopped in the middle of an epoch resume at the exact batch and end bit-for-bit equal.

Every run here has dropout (the RNG), Adam (optimizer moments), a 1cycle schedule stepped per
optimizer step and gradient accumulation, so a resume that skipped, repeated or reordered one
batch, or restored one state wrongly, would end with other weights. Stops come from max_steps,
a real SIGTERM sent to this process, and a crash after a periodic checkpoint; both the
device-resident ``TensorBatches`` path and the torch ``DataLoader`` path (images, augmentation)
are covered.
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from trainer.data import ImageDataModule
from trainer.data.augment import ImageAugment
from trainer.engine import Trainer, TrainingModule
from trainer.engine.callbacks import EarlyStopping, ModelCheckpoint
from trainer.engine.checkpoint import load_checkpoint
from trainer.engine.preemption import Preempted
from trainer.engine.seed import seed_everything
from trainer.models import MLP
from trainer.optim.schedulers import onecycle
from trainer.tasks import MulticlassObjective

from .conftest import MemoryLogger

EPOCHS = 4
ACCUMULATE = 3  # 8 batches an epoch: optimizer steps after batches 3, 6 and 8 -> 3 steps an epoch


class Recorder:
    """A stateful callback (no base class): counts steps; its count travels in checkpoints."""

    def __init__(self) -> None:
        self.steps = 0

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None:
        self.steps += 1

    def state_dict(self) -> dict[str, int]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.steps = state["steps"]


class Crash(Exception):
    pass


class CrashAt:
    """Raise at an optimizer step, as a killed process would stop (no checkpoint of its own)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None:
        if trainer.global_step == self.step:
            raise Crash(self.step)


class SigtermAt:
    """Send this process a real SIGTERM at an optimizer step, as a scheduler would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


class SignalAtFitEnd:
    """Send this process a real signal in ``on_fit_end``: after the loop's last look at the flag."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def on_fit_end(self, trainer: Trainer, module: TrainingModule) -> None:
        os.kill(os.getpid(), self.signum)


def _tabular_module(module: Any) -> TrainingModule:
    return module(
        "binary",
        hidden_sizes=(16, 16),
        dropout=0.3,
        optimizer_factory=functools.partial(torch.optim.Adam, lr=0.01),
        scheduler_factory=functools.partial(onecycle, max_lr=0.05),
        seed=None,
    )


def _run(
    datamodule: Any,
    module: Any,
    directory: Path,
    *,
    ckpt_path: Path | None = None,
    seed: int = 7,
    extra: tuple[Any, ...] = (),
    **options: Any,
) -> tuple[Trainer, TrainingModule, Recorder, MemoryLogger]:
    seed_everything(seed)
    mod = _tabular_module(module)
    recorder, logger = Recorder(), MemoryLogger()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=EPOCHS,
        accumulate_grad_batches=ACCUMULATE,
        log_every_n_steps=1,
        callbacks=[
            recorder,
            EarlyStopping(monitor="val/loss", patience=100),
            ModelCheckpoint(dirpath=str(directory), monitor="val/loss", save_top_k=2),
            *extra,
        ],
        logger=logger,  # type: ignore[arg-type]  # a real Logger by protocol, see conftest
        default_root_dir=directory,
        **options,
    )
    trainer.fit(mod, datamodule("binary", shuffle=True, seed=3), ckpt_path=ckpt_path)
    return trainer, mod, recorder, logger


def _assert_same_state(resumed: Trainer, whole: Trainer) -> None:
    a, b = resumed._module, whole._module
    assert a is not None and b is not None
    for name, value in b.model.state_dict().items():
        assert torch.equal(a.model.state_dict()[name], value), name
    assert resumed.global_step == whole.global_step == EPOCHS * 3
    assert resumed.current_epoch == whole.current_epoch == EPOCHS
    whole_opt, resumed_opt = whole.optimizer.state_dict(), resumed.optimizer.state_dict()  # type: ignore[union-attr]
    assert whole_opt["param_groups"] == resumed_opt["param_groups"]  # 1cycle's lr and momentum
    for key, state in whole_opt["state"].items():
        for name, value in state.items():
            assert torch.equal(value, resumed_opt["state"][key][name]), (key, name)
    assert resumed.scheduler_spec.scheduler.state_dict() == whole.scheduler_spec.scheduler.state_dict()  # type: ignore[union-attr]


def _steps(logger: MemoryLogger, after: int) -> list[tuple[int, float]]:
    return [(s, v) for s, v in logger.series("train/loss_step") if s > after]


@pytest.fixture
def whole(
    datamodule: Any, module: Any, tmp_path: Path
) -> tuple[Trainer, TrainingModule, Recorder, MemoryLogger]:
    return _run(datamodule, module, tmp_path / "whole")


def test_a_max_steps_stop_mid_epoch_resumes_at_the_next_batch(datamodule, module, whole, tmp_path):
    directory = tmp_path / "split"
    first, _, _, _ = _run(datamodule, module, directory, max_steps=5)  # epoch 2, after batch 6 of 8
    state = load_checkpoint(directory / "last.ckpt")
    assert (state["epoch"], state["global_step"]) == (1, 5)
    assert state["progress"]["batch"] == 6 and state["progress"]["batches_per_epoch"] == 8
    assert first.current_epoch == 1  # the cut-short epoch is not counted...
    assert "val/loss" in first.history[-1]  # ...but the run still ends with validation metrics
    # Another seed before the second leg: everything must come from the checkpoint.
    resumed, _, recorder, logger = _run(
        datamodule, module, directory, ckpt_path=directory / "last.ckpt", seed=1234
    )
    _assert_same_state(resumed, whole[0])
    assert resumed.history == whole[0].history[1:]  # epoch 2's train/loss covers all 8 batches
    assert recorder.steps == whole[2].steps == EPOCHS * 3
    assert _steps(logger, 5) == _steps(whole[3], 5)
    assert [s for s, _ in logger.series("train/loss_step")] == list(range(6, EPOCHS * 3 + 1))
    after = torch.rand(3)  # the RNG stream continues where the uninterrupted run's is
    _run(datamodule, module, tmp_path / "again")
    assert torch.equal(torch.rand(3), after)


def test_a_sigterm_saves_the_position_and_the_resume_ends_identically(datamodule, module, whole, tmp_path):
    directory = tmp_path / "split"
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Preempted) as stopped:
        _run(datamodule, module, directory, extra=(SigtermAt(4),))
    assert signal.getsignal(signal.SIGTERM) is handler  # put back after fit
    assert stopped.value.exit_code == 143
    assert stopped.value.checkpoint == directory / "last.ckpt"
    state = load_checkpoint(directory / "last.ckpt")
    assert (state["epoch"], state["global_step"], state["progress"]["batch"]) == (1, 4, 3)
    resumed, _, _, logger = _run(datamodule, module, directory, ckpt_path=directory / "last.ckpt")
    _assert_same_state(resumed, whole[0])
    assert resumed.history == whole[0].history[1:]
    assert _steps(logger, 4) == _steps(whole[3], 4)


def test_a_sigterm_at_an_epochs_last_step_resumes_with_its_validation(datamodule, module, whole, tmp_path):
    directory = tmp_path / "split"
    with pytest.raises(Preempted):
        _run(datamodule, module, directory, extra=(SigtermAt(6),))  # the end of epoch 2's batches
    state = load_checkpoint(directory / "last.ckpt")
    assert (state["epoch"], state["progress"]["batch"]) == (1, 8)  # trained, not yet validated
    resumed, _, _, _ = _run(datamodule, module, directory, ckpt_path=directory / "last.ckpt")
    _assert_same_state(resumed, whole[0])
    assert resumed.history == whole[0].history[1:]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_signal_after_the_last_step_still_stops_and_saves_the_end(
    datamodule, module, whole, signum, tmp_path
):
    # Found by a sweep test: a Ctrl-C during the last epoch's end was lost, and the sweep ran on.
    directory = tmp_path / "end"
    handler = signal.getsignal(signum)
    with pytest.raises(Preempted) as stopped:
        _run(datamodule, module, directory, extra=(SignalAtFitEnd(signum),))
    assert signal.getsignal(signum) is handler
    assert stopped.value.signum == signum and stopped.value.checkpoint == directory / "last.ckpt"
    state = load_checkpoint(directory / "last.ckpt")
    assert (state["epoch"], state["global_step"]) == (EPOCHS, EPOCHS * 3)  # the end of training
    resumed, _, recorder, _ = _run(datamodule, module, directory, ckpt_path=directory / "last.ckpt")
    _assert_same_state(resumed, whole[0])  # nothing left to train: the resume is the finished run
    assert recorder.steps == EPOCHS * 3


def test_a_crash_after_a_periodic_checkpoint_resumes_identically(datamodule, module, whole, tmp_path):
    directory = tmp_path / "split"
    with pytest.raises(Crash):
        _run(datamodule, module, directory, checkpoint_every_n_steps=4, extra=(CrashAt(6),))
    state = load_checkpoint(directory / "last.ckpt")  # written at step 4, mid-epoch 2
    assert (state["epoch"], state["global_step"], state["progress"]["batch"]) == (1, 4, 3)
    resumed, _, _, _ = _run(
        datamodule, module, directory, ckpt_path=directory / "last.ckpt", checkpoint_every_n_steps=4
    )
    _assert_same_state(resumed, whole[0])
    assert resumed.history == whole[0].history[1:]


def test_a_resume_with_another_batch_count_is_refused(datamodule, module, tmp_path):
    from trainer.errors import UserError

    _run(datamodule, module, tmp_path, max_steps=5)
    with pytest.raises(UserError, match=r"batch 6 of an epoch of 8 batches.*has 4"):
        _run(datamodule, module, tmp_path, ckpt_path=tmp_path / "last.ckpt", limit_train_batches=4)


# ---------------------------------------------------------------- the torch DataLoader path
def _images_run(
    directory: Path, *, ckpt_path: Path | None = None, **options: Any
) -> tuple[Trainer, TrainingModule]:
    seed_everything(11)
    data = ImageDataModule(
        name="digits",
        limit_train=256,
        batch_size=32,
        loader="dataloader",
        augment=ImageAugment(hflip=True, noise_std=0.1),
        seed=5,
    )
    data.setup()
    mod = TrainingModule(
        MLP(in_features=64, out_features=10, hidden_sizes=(32,), dropout=0.2),
        MulticlassObjective(),
        optimizer_factory=functools.partial(torch.optim.Adam, lr=0.005),
        scheduler_factory=functools.partial(onecycle, max_lr=0.02),
    )
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=3,
        accumulate_grad_batches=2,
        callbacks=[ModelCheckpoint(dirpath=str(directory), monitor=None)],
        default_root_dir=directory,
        **options,
    )
    trainer.fit(mod, data, ckpt_path=ckpt_path)
    return trainer, mod


def test_the_dataloader_path_with_augmentation_resumes_mid_epoch_identically(tmp_path):
    whole, whole_mod = _images_run(tmp_path / "whole")
    _images_run(tmp_path / "split", max_steps=7)  # epoch 2, after batch 6 of 8
    assert load_checkpoint(tmp_path / "split" / "last.ckpt")["progress"]["batch"] == 6
    resumed, resumed_mod = _images_run(tmp_path / "split", ckpt_path=tmp_path / "split" / "last.ckpt")
    assert resumed.global_step == whole.global_step == 12
    for name, value in whole_mod.model.state_dict().items():
        assert torch.equal(resumed_mod.model.state_dict()[name], value), name
    assert resumed.history == whole.history[1:]
