"""Callbacks are dispatched by hook name in list order; the learning-rate monitor records what it sees."""

from __future__ import annotations

import functools

import pytest
import torch
from torch.optim import lr_scheduler

from trainer.engine import SchedulerSpec, Trainer
from trainer.engine.callbacks import HOOKS, Callback, LearningRateMonitor, ProgressBar
from trainer.errors import ConfigError


class Recording:
    """Implements every hook without any base class: the Trainer finds them with getattr."""

    def __init__(self, log: list, tag: str = "") -> None:
        self.log = log
        self.tag = tag

    def _note(self, name, trainer, extra=None):
        self.log.append((self.tag, name, trainer.current_epoch, trainer.global_step, extra))

    def on_fit_start(self, trainer, module):
        self._note("on_fit_start", trainer)

    def on_train_epoch_start(self, trainer, module):
        self._note("on_train_epoch_start", trainer)

    def on_train_batch_end(self, trainer, module, loss):
        assert isinstance(loss, torch.Tensor) and loss.dim() == 0
        self._note("on_train_batch_end", trainer, trainer.batch_idx)

    def on_validation_end(self, trainer, module, metrics):
        self._note("on_validation_end", trainer, sorted(metrics))

    def on_train_epoch_end(self, trainer, module, metrics):
        self._note("on_train_epoch_end", trainer, sorted(metrics))

    def on_fit_end(self, trainer, module):
        self._note("on_fit_end", trainer)

    def on_exception(self, trainer, module, exception):
        self._note("on_exception", trainer, type(exception).__name__)

    def on_test_end(self, trainer, module, metrics):
        self._note("on_test_end", trainer, sorted(metrics))


def test_recording_callback_implements_exactly_the_documented_hooks():
    implemented = {name for name in vars(Recording) if name.startswith("on_")}
    assert implemented == set(HOOKS)
    assert {name for name in vars(Callback) if name.startswith("on_")} == set(HOOKS)


def test_hooks_arrive_in_order_with_the_loop_state(datamodule, module, tmp_path):
    log: list = []
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=2,
        callbacks=[Recording(log)],
        default_root_dir=tmp_path,
    )
    dm = datamodule("regression")
    mod = module("regression")
    trainer.fit(mod, dm)
    trainer.test(mod, dm)

    val_keys = ["val/loss", "val/mae", "val/mse", "val/r2", "val/rmse"]
    epoch_keys = ["train/loss", *val_keys]
    test_keys = [k.replace("val/", "test/") for k in val_keys]
    # (hook, epochs completed, optimizer steps taken, extra)
    assert [entry[1:] for entry in log] == [
        ("on_fit_start", 0, 0, None),
        ("on_train_epoch_start", 0, 0, None),
        ("on_train_batch_end", 0, 1, 0),
        ("on_train_batch_end", 0, 2, 1),
        ("on_validation_end", 0, 2, val_keys),
        ("on_train_epoch_end", 1, 2, epoch_keys),
        ("on_train_epoch_start", 1, 2, None),
        ("on_train_batch_end", 1, 3, 0),
        ("on_train_batch_end", 1, 4, 1),
        ("on_validation_end", 1, 4, val_keys),
        ("on_train_epoch_end", 2, 4, epoch_keys),
        ("on_fit_end", 2, 4, None),
        ("on_test_end", 2, 4, test_keys),
    ]


def test_callbacks_are_called_in_list_order(datamodule, module, tmp_path):
    log: list = []
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=1,
        callbacks=[Recording(log, "b"), Recording(log, "a")],
        default_root_dir=tmp_path,
    )
    trainer.fit(module("binary"), datamodule("binary"))
    tags_by_hook: dict[str, list[str]] = {}
    for tag, name, *_ in log:
        tags_by_hook.setdefault(name, []).append(tag)
    assert tags_by_hook == {
        name: ["b", "a"]
        for name in (
            "on_fit_start",
            "on_train_epoch_start",
            "on_train_batch_end",
            "on_validation_end",
            "on_train_epoch_end",
            "on_fit_end",
        )
    }


def test_a_callback_may_implement_only_some_hooks_and_signal_a_stop(datamodule, module, tmp_path):
    class StopAfterThreeSteps:  # one hook, no base class, no state
        def on_train_batch_end(self, trainer, module, loss):
            if trainer.global_step >= 3:
                trainer.should_stop = True

    trainer = Trainer(
        accelerator="cpu", max_epochs=5, callbacks=[StopAfterThreeSteps()], default_root_dir=tmp_path
    )
    trainer.fit(module("binary"), datamodule("binary"))
    # A stop signalled mid-epoch lets the epoch finish, then ends the fit.
    assert trainer.current_epoch == 1
    assert trainer.global_step == 8


def test_an_error_reaches_on_exception_and_not_on_fit_end(datamodule, module, tmp_path):
    class Boom:
        def on_train_epoch_end(self, trainer, module, metrics):
            if trainer.current_epoch == 2:
                raise KeyboardInterrupt  # what Ctrl-C looks like to the loop

    log: list = []
    trainer = Trainer(
        accelerator="cpu", max_epochs=5, callbacks=[Boom(), Recording(log)], default_root_dir=tmp_path
    )
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(module("binary"), datamodule("binary"))
    names = [entry[1] for entry in log]
    assert names[-1] == "on_exception"
    assert log[-1][4] == "KeyboardInterrupt"
    assert "on_fit_end" not in names


# ---------------------------------------------------------------- LearningRateMonitor


def _halving(optimizer, plan, *, interval):
    return SchedulerSpec(lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5), interval=interval)


def _assert_series(got, expected):
    assert [step for step, _ in got] == [step for step, _ in expected]
    assert [lr for _, lr in got] == pytest.approx([lr for _, lr in expected], rel=1e-9)


def test_lr_monitor_records_the_rate_of_each_epoch(datamodule, module, memory_logger, tmp_path):
    monitor = LearningRateMonitor(logging_interval="epoch")
    trainer = Trainer(
        accelerator="cpu", max_epochs=3, callbacks=[monitor], logger=memory_logger, default_root_dir=tmp_path
    )
    mod = module("binary", scheduler_factory=functools.partial(_halving, interval="epoch"))
    trainer.fit(mod, datamodule("binary"))
    expected = [(0, 0.1), (8, 0.05), (16, 0.025)]  # the rate each epoch trains with
    _assert_series(monitor.history, expected)
    _assert_series(memory_logger.series("lr"), expected)


def test_lr_monitor_records_the_rate_after_each_step(datamodule, module, memory_logger, tmp_path):
    monitor = LearningRateMonitor(logging_interval="step")
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=3,
        callbacks=[monitor],
        logger=memory_logger,
        default_root_dir=tmp_path,
    )
    mod = module("binary", scheduler_factory=functools.partial(_halving, interval="step"))
    trainer.fit(mod, datamodule("binary"))
    # After step s the scheduler has stepped s times: the rate for the next step is 0.1 / 2**s.
    expected = [(s, 0.1 / 2**s) for s in range(1, 7)]
    _assert_series(monitor.history, expected)
    _assert_series(memory_logger.series("lr"), expected)


def test_lr_monitor_names_each_parameter_group(datamodule, module, memory_logger, tmp_path):
    def two_groups(params):
        params = list(params)
        return torch.optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], lr=0.1)

    monitor = LearningRateMonitor()
    trainer = Trainer(
        accelerator="cpu", max_epochs=1, callbacks=[monitor], logger=memory_logger, default_root_dir=tmp_path
    )
    trainer.fit(module("binary", optimizer_factory=two_groups), datamodule("binary"))
    assert memory_logger.series("lr/group0") == [(0, 0.1)]
    assert memory_logger.series("lr/group1") == [(0, 0.01)]
    assert monitor.current(trainer) == {"lr/group0": 0.1, "lr/group1": 0.01}


def test_lr_monitor_bad_interval_is_a_config_error():
    with pytest.raises(ConfigError, match="logging_interval='batch'; choose 'epoch' or 'step'"):
        LearningRateMonitor(logging_interval="batch")


def test_progress_bar_in_a_pipe_logs_one_line_per_epoch(datamodule, module, tmp_path, caplog):
    caplog.set_level("INFO", logger="trainer.progress")
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=2,
        callbacks=[ProgressBar(force_terminal=False)],
        default_root_dir=tmp_path,
    )
    trainer.fit(module("binary"), datamodule("binary"))
    lines = [r.getMessage() for r in caplog.records if r.name == "trainer.progress"]
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2  train/loss=")
    assert "val/loss=" in lines[1]


def test_progress_bar_on_a_terminal_draws_and_closes(datamodule, module, tmp_path):
    bar = ProgressBar(force_terminal=True, refresh_every_n_steps=1)
    trainer = Trainer(accelerator="cpu", max_epochs=2, callbacks=[bar], default_root_dir=tmp_path)
    trainer.fit(module("binary"), datamodule("binary"))
    assert bar._progress is None  # stopped at the end of fit
