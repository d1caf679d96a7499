"""EarlyStopping: its pure decision, and what it does to a real fit."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.callbacks import EarlyStopping
from trainer.errors import ConfigError


def _frozen(p):
    return torch.optim.SGD(p, lr=0.0)  # the model never changes: the metric never improves


class WeightsPerValidation:
    """Keeps a copy of the weights at each validation, keyed by the epoch number (1-based)."""

    def __init__(self) -> None:
        self.by_epoch: dict[int, dict[str, torch.Tensor]] = {}

    def on_validation_end(self, trainer, module, metrics):
        state = module.model.state_dict()
        self.by_epoch[trainer.current_epoch + 1] = {k: v.detach().clone() for k, v in state.items()}


# ---------------------------------------------------------------- decide(): pure


def test_decide_first_value_is_an_improvement():
    assert EarlyStopping(monitor="val/loss", patience=3).decide(5.0) == (True, False, "")


def test_decide_counts_patience_in_validations():
    stopper = EarlyStopping(monitor="val/loss", patience=2)
    stopper.best, stopper.wait = 1.0, 0
    assert stopper.decide(1.0) == (False, False, "")  # 1st without improvement: wait
    stopper.wait = 1
    improved, stop, reason = stopper.decide(1.5)  # 2nd: stop
    assert (improved, stop) == (False, True)
    assert reason == "val/loss did not improve for 2 validations (best 1)"


def test_decide_patience_zero_stops_on_the_first_stall():
    stopper = EarlyStopping(monitor="val/loss", patience=0)
    stopper.best = 1.0
    assert stopper.decide(1.0)[1] is True


def test_decide_min_delta():
    stopper = EarlyStopping(monitor="val/loss", patience=5, min_delta=0.1)
    stopper.best = 1.0
    assert stopper.decide(0.95)[0] is False  # better, but not by more than min_delta
    assert stopper.decide(0.9)[0] is False  # exactly min_delta is not more than it
    assert stopper.decide(0.85)[0] is True
    assert EarlyStopping(min_delta=-0.1).min_delta == 0.1  # the sign is ignored


def test_decide_mode_max():
    stopper = EarlyStopping(mode="max", patience=5)
    stopper.best = 0.8
    assert stopper.decide(0.9)[0] is True
    assert stopper.decide(0.7)[0] is False


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_decide_check_finite_stops_at_once(value):
    stopper = EarlyStopping(monitor="val/auc", patience=10, check_finite=True)
    stopper.best = 0.5
    improved, stop, reason = stopper.decide(value)
    assert (improved, stop) == (False, True)
    assert reason == f"val/auc={value} is not finite"


def test_decide_without_check_finite_treats_nan_as_no_improvement():
    stopper = EarlyStopping(monitor="val/loss", patience=3, check_finite=False)
    stopper.best = 0.5
    assert stopper.decide(math.nan) == (False, False, "")


def test_decide_without_check_finite_can_stop_before_any_finite_value():
    # A metric that is NaN from the start (e.g. AUC on a one-class split) and never a best.
    stopper = EarlyStopping(monitor="val/roc_auc", patience=1, check_finite=False)
    improved, stop, reason = stopper.decide(math.nan)
    assert (improved, stop) == (False, True)
    assert "val/roc_auc did not improve for 1 validations" in reason
    assert "best None" in reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "maximum"}, "callbacks.early_stopping.mode='maximum' is not known"),
        ({"patience": -1}, "callbacks.early_stopping.patience=-1 must be 0 or more"),
    ],
)
def test_bad_options_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EarlyStopping(**kwargs)


# ---------------------------------------------------------------- in a fit


def test_stops_after_patience_validations_without_improvement(datamodule, module, tmp_path):
    stopper = EarlyStopping(monitor="val/loss", patience=3)
    trainer = Trainer(accelerator="cpu", max_epochs=50, callbacks=[stopper], default_root_dir=tmp_path)
    trainer.fit(module("binary", optimizer_factory=_frozen), datamodule("binary"))
    assert trainer.current_epoch == 4  # epoch 1 sets the best, epochs 2-4 do not improve
    assert stopper.stopped_epoch == 3  # 0-based index of the epoch it stopped in
    assert stopper.wait == 3
    assert stopper.best == pytest.approx(trainer.history[0]["val/loss"])
    assert "did not improve for 3 validations" in stopper.reason


def test_keeps_going_while_the_metric_improves(datamodule, module, tmp_path):
    stopper = EarlyStopping(monitor="val/loss", patience=1)
    trainer = Trainer(accelerator="cpu", max_epochs=6, callbacks=[stopper], default_root_dir=tmp_path)
    trainer.fit(
        module("binary", optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.01)), datamodule("binary")
    )
    losses = [row["val/loss"] for row in trainer.history]
    assert losses == sorted(losses, reverse=True)  # improved every epoch ...
    assert trainer.current_epoch == 6  # ... so it never stopped
    assert stopper.stopped_epoch is None
    assert stopper.best == losses[-1]


def test_min_delta_ignores_small_improvements(datamodule, module, tmp_path):
    runs = {}
    for min_delta in (0.0, 10.0):
        stopper = EarlyStopping(monitor="val/loss", patience=2, min_delta=min_delta)
        trainer = Trainer(accelerator="cpu", max_epochs=6, callbacks=[stopper], default_root_dir=tmp_path)
        trainer.fit(
            module("binary", optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.01)), datamodule("binary")
        )
        runs[min_delta] = trainer.current_epoch
    assert runs == {0.0: 6, 10.0: 3}


def test_mode_max_for_a_metric_that_grows(datamodule, module, tmp_path):
    epochs = {}
    for mode in ("max", "min"):
        stopper = EarlyStopping(monitor="val/r2", mode=mode, patience=2)
        trainer = Trainer(accelerator="cpu", max_epochs=6, callbacks=[stopper], default_root_dir=tmp_path)
        trainer.fit(
            module("regression", optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.02)),
            datamodule("regression"),
        )
        r2 = [row["val/r2"] for row in trainer.history]
        epochs[mode] = trainer.current_epoch
        if mode == "max":
            assert stopper.best == max(r2)
    assert epochs == {"max": 6, "min": 3}  # read as 'min', a rising R² never improves


def test_check_finite_stops_on_a_nan_metric(datamodule, module, tmp_path):
    dm = datamodule("binary")
    x, _ = dm.val
    dm.val = (x, torch.zeros(len(x)))  # one class only: ROC-AUC is undefined (NaN)
    stopper = EarlyStopping(monitor="val/roc_auc", mode="max", patience=10, check_finite=True)
    trainer = Trainer(accelerator="cpu", max_epochs=10, callbacks=[stopper], default_root_dir=tmp_path)
    trainer.fit(module("binary"), dm)
    assert math.isnan(trainer.callback_metrics["val/roc_auc"])
    assert trainer.current_epoch == 1
    assert stopper.reason == "val/roc_auc=nan is not finite"


def test_without_check_finite_a_nan_metric_runs_out_its_patience(datamodule, module, tmp_path):
    dm = datamodule("binary")
    x, _ = dm.val
    dm.val = (x, torch.zeros(len(x)))
    stopper = EarlyStopping(monitor="val/roc_auc", mode="max", patience=3, check_finite=False)
    trainer = Trainer(accelerator="cpu", max_epochs=10, callbacks=[stopper], default_root_dir=tmp_path)
    trainer.fit(module("binary"), dm)
    assert trainer.current_epoch == 3
    assert stopper.best is None


def test_restore_best_weights_puts_the_best_epoch_back(datamodule, module, snapshot, tmp_path):
    # Validation labels are the opposite of the training rule: the better the fit, the worse
    # the validation loss, so the best epoch is an early one, not the last.
    results = {}
    for restore in (True, False):
        dm = datamodule("binary")
        x, y = dm.val
        dm.val = (x, 1.0 - y)
        recorder = WeightsPerValidation()
        stopper = EarlyStopping(monitor="val/loss", patience=3, restore_best_weights=restore)
        trainer = Trainer(
            accelerator="cpu", max_epochs=10, callbacks=[recorder, stopper], default_root_dir=tmp_path
        )
        mod = module("binary", optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.02))
        trainer.fit(mod, dm)
        losses = [row["val/loss"] for row in trainer.history]
        best_epoch = 1 + losses.index(min(losses))
        assert best_epoch < trainer.current_epoch
        results[restore] = (
            snapshot(mod),
            recorder.by_epoch[best_epoch],
            recorder.by_epoch[trainer.current_epoch],
        )
    final, best, last = results[True]
    assert all(torch.equal(final[k], best[k]) for k in best)
    assert not all(torch.equal(final[k], last[k]) for k in last)
    final, best, last = results[False]
    assert all(torch.equal(final[k], last[k]) for k in last)


def test_missing_monitor_is_a_config_error_listing_the_metrics(datamodule, module, tmp_path):
    stopper = EarlyStopping(monitor="val/accuracy")
    trainer = Trainer(accelerator="cpu", max_epochs=2, callbacks=[stopper], default_root_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"monitor='val/accuracy' is not among .*val/loss.*val/mse"):
        trainer.fit(module("regression"), datamodule("regression"))


def test_state_dict_round_trip():
    stopper = EarlyStopping(monitor="val/loss", patience=4)
    stopper.best, stopper.wait, stopper.stopped_epoch = 0.25, 2, None
    other = EarlyStopping(monitor="val/loss", patience=4)
    other.load_state_dict(stopper.state_dict())
    assert (other.best, other.wait, other.stopped_epoch) == (0.25, 2, None)
