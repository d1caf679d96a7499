"""When the loop stops and how much of each split it reads: epochs, steps, time, batch limits."""

from __future__ import annotations

import time

import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.callbacks import EarlyStopping, ModelCheckpoint
from trainer.errors import ConfigError


class StepCounter:
    """Counts optimizer steps and remembers each epoch's batch count (no base class needed)."""

    def __init__(self) -> None:
        self.steps = 0
        self.batches_per_epoch: list[int] = []

    def on_train_epoch_start(self, trainer, module):
        self.batches_per_epoch.append(0)

    def on_train_batch_end(self, trainer, module, loss):
        self.steps += 1
        self.batches_per_epoch[-1] = trainer.batch_idx + 1


def test_max_epochs(datamodule, module, tmp_path):
    counter = StepCounter()
    trainer = Trainer(accelerator="cpu", max_epochs=3, callbacks=[counter], default_root_dir=tmp_path)
    trainer.fit(module("binary"), datamodule("binary"))
    assert trainer.current_epoch == 3
    assert len(trainer.history) == 3
    assert counter.batches_per_epoch == [8, 8, 8]


@pytest.mark.parametrize(("max_steps", "epochs"), [(5, 0), (8, 1), (13, 1)])
def test_max_steps_stops_at_exactly_that_many_optimizer_steps(
    max_steps, epochs, datamodule, module, tmp_path
):
    counter = StepCounter()
    trainer = Trainer(
        accelerator="cpu", max_epochs=100, max_steps=max_steps, callbacks=[counter], default_root_dir=tmp_path
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert trainer.global_step == max_steps
    assert counter.steps == max_steps
    # An epoch cut short is not complete (a resume continues it) but still validates and logs.
    assert trainer.current_epoch == epochs
    assert trainer.progress.batch == max_steps - 8 * epochs
    assert "val/loss" in trainer.history[-1]


def test_max_steps_counts_optimizer_steps_under_accumulation(datamodule, module, tmp_path):
    counter = StepCounter()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=100,
        max_steps=3,
        accumulate_grad_batches=2,
        callbacks=[counter],
        default_root_dir=tmp_path,
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert trainer.global_step == 3
    assert counter.batches_per_epoch == [6]  # 3 steps of 2 batches each


def test_max_time_stops_a_run_that_would_otherwise_go_on_for_ages(datamodule, module, tmp_path):
    trainer = Trainer(accelerator="cpu", max_epochs=1_000_000, max_time=0.3, default_root_dir=tmp_path)
    started = time.monotonic()
    trainer.fit(module("binary"), datamodule("binary"))
    elapsed = time.monotonic() - started
    assert trainer.global_step > 0
    assert trainer.current_epoch < 1_000_000
    assert elapsed < 10.0


def test_max_time_zero_trains_nothing(datamodule, module, snapshot, tmp_path):
    mod = module("binary")
    before = snapshot(mod)
    trainer = Trainer(accelerator="cpu", max_epochs=5, max_time=0, default_root_dir=tmp_path)
    trainer.fit(mod, datamodule("binary"))
    assert trainer.global_step == 0
    assert trainer.current_epoch == 0
    assert all(torch.equal(before[k], v) for k, v in snapshot(mod).items())


@pytest.mark.parametrize(("limit", "batches"), [(3, 3), (1, 1), (0.5, 4), (0.01, 1), (1.0, 8), (100, 8)])
def test_limit_train_batches_as_count_and_fraction(limit, batches, datamodule, module, tmp_path):
    counter = StepCounter()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=limit,
        callbacks=[counter],
        default_root_dir=tmp_path,
    )
    trainer.fit(module("binary"), datamodule("binary"))  # 8 batches of 32
    assert trainer.num_training_batches == batches
    assert counter.batches_per_epoch == [batches, batches]
    assert trainer.global_step == 2 * batches


def test_limit_val_batches_evaluates_only_the_first_batches(datamodule, module, tmp_path):
    dm = datamodule("regression", val_rows=128, eval_batch_size=32)
    mod = module("regression")
    limited = Trainer(accelerator="cpu", limit_val_batches=1, default_root_dir=tmp_path).validate(mod, dm)
    x, y = dm.val
    with torch.no_grad():
        first_batch = torch.nn.functional.mse_loss(mod.model(x[:32]), y[:32]).item()
        everything = torch.nn.functional.mse_loss(mod.model(x), y).item()
    assert limited["val/loss"] == pytest.approx(first_batch, rel=1e-5)
    assert limited["val/loss"] != pytest.approx(everything, rel=1e-3)


@pytest.mark.parametrize("limit", [1.5, -0.5])
def test_a_fraction_outside_0_1_is_a_config_error(limit, datamodule, module, tmp_path):
    trainer = Trainer(accelerator="cpu", limit_train_batches=limit, default_root_dir=tmp_path)
    with pytest.raises(ConfigError, match=f"batch limit of {limit}"):
        trainer.fit(module("binary"), datamodule("binary"))


@pytest.mark.parametrize("runs", [1, 3])
def test_fast_dev_run_runs_n_batches_once_and_saves_nothing(runs, datamodule, module, tmp_path):
    counter = StepCounter()
    checkpoints = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), monitor="val/loss", save_top_k=1)
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=50,
        fast_dev_run=runs,
        callbacks=[counter, checkpoints],
        default_root_dir=tmp_path,
    )
    dm = datamodule("binary", eval_batch_size=16)
    trainer.fit(module("binary"), dm)
    assert trainer.current_epoch == 1
    assert trainer.global_step == runs
    assert counter.batches_per_epoch == [runs]
    assert not list(tmp_path.rglob("*.ckpt"))
    assert checkpoints.best_model_path == checkpoints.last_model_path == ""
    # Evaluation reads `runs` batches too: 16 rows each.
    mod = module("regression")
    reg = datamodule("regression", eval_batch_size=16)
    limited = trainer.test(mod, reg)
    x, y = reg.test
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(mod.model(x[: 16 * runs]), y[: 16 * runs]).item()
    assert limited["test/loss"] == pytest.approx(expected, rel=1e-5)


def test_overfit_batches_trains_and_validates_on_the_first_training_batches_unshuffled(
    datamodule, module, snapshot, tmp_path
):
    dm = datamodule("regression", shuffle=True)
    mod = module("regression")
    trainer = Trainer(accelerator="cpu", max_epochs=4, overfit_batches=2, default_root_dir=tmp_path)
    trainer.fit(mod, dm)
    assert trainer.global_step == 4 * 2

    # The same as training on exactly the first 64 rows, in order.
    x, y = dm.train
    reference = module("regression")
    small = datamodule("regression", shuffle=False)
    small.train = (x[:64], y[:64])
    Trainer(accelerator="cpu", max_epochs=4, default_root_dir=tmp_path).fit(reference, small)
    got, want = snapshot(mod), snapshot(reference)
    assert all(torch.equal(got[k], want[k]) for k in want)

    # Validation ran on those training rows, not on the validation split.
    with torch.no_grad():
        on_train_rows = torch.nn.functional.mse_loss(mod.model(x[:64]), y[:64]).item()
    assert trainer.callback_metrics["val/loss"] == pytest.approx(on_train_rows, rel=1e-5)


def test_check_val_every_n_epoch(datamodule, module, tmp_path):
    trainer = Trainer(accelerator="cpu", max_epochs=5, check_val_every_n_epoch=2, default_root_dir=tmp_path)
    trainer.fit(module("binary"), datamodule("binary"))
    validated = [row["epoch"] for row in trainer.history if "val/loss" in row]
    assert validated == [2, 4]
    assert all("train/loss" in row for row in trainer.history)


def test_skipped_validations_do_not_count_against_early_stopping(datamodule, module, tmp_path):
    # lr=0: val/loss never improves after the first validation; patience counts validations.
    stopper = EarlyStopping(monitor="val/loss", patience=2)
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=20,
        check_val_every_n_epoch=3,
        callbacks=[stopper],
        default_root_dir=tmp_path,
    )
    trainer.fit(
        module("binary", optimizer_factory=lambda p: torch.optim.SGD(p, lr=0.0)), datamodule("binary")
    )
    assert trainer.current_epoch == 9  # validations at epochs 3 (best), 6, 9 (stop)
