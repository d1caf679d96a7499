"""A trial's value is its best epoch's (the checkpoint's), not its last epoch's."""

from __future__ import annotations

import io
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from trainer.sweep.stages import run_sweep
from trainer.sweep.trial_value import best_epoch_row


def test_best_epoch_row_takes_the_first_best_and_skips_non_finite() -> None:
    history = [
        {"epoch": 0, "val/loss": 0.5, "val/f1": 0.1},
        {"epoch": 1, "val/loss": float("nan"), "val/f1": 0.9},
        {"epoch": 2, "val/loss": 0.2, "val/f1": 0.3},
        {"epoch": 3, "val/loss": 0.2, "val/f1": 0.4},
        {"epoch": 4, "val/loss": 0.6, "val/f1": 0.2},
    ]
    assert best_epoch_row(history, metric="val/loss", direction="minimize") == history[2]
    assert best_epoch_row(history, metric="val/f1", direction="maximize") == history[1]
    assert best_epoch_row([{"epoch": 0}], metric="val/loss", direction="minimize") is None


@pytest.mark.slow
def test_trials_are_valued_at_their_best_epoch_and_the_refit_reproduces_it(
    base: list[str], tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path}/optuna.db"
    # A learning rate this high overshoots: the validation loss turns back up before the end.
    args = [
        "hparams_search=mlp",
        "hparams_search.params.optimizer.choices=[momentum]",
        "hparams_search.params={optimizer.lr:{type:float,low:0.8,high:1.0}}",
        "sweep.n_trials=2",
        "sweep.plots=false",
        "sweep.pruner=none",
        f"sweep.storage={storage}",
        "sweep.study_name=best-epoch",
        *base,
        "trainer.max_epochs=8",
        "callbacks.early_stopping=null",
    ]
    [result] = run_sweep(args, stream=io.StringIO())
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    study = optuna.load_study(study_name="best-epoch", storage=storage)
    ended_above_best = 0
    for trial in study.trials:
        curve = [
            m.value
            for m in sorted(
                client.get_metric_history(trial.user_attrs["run_id"], "val/loss"), key=lambda m: m.step
            )
        ]
        assert len(curve) == 8
        assert trial.value == pytest.approx(min(curve))
        assert curve[trial.user_attrs["best_epoch"] - 1] == pytest.approx(min(curve))
        ended_above_best += curve[-1] > min(curve)
        # A light trial writes no checkpoint: nothing would read it.
        assert not list(Path(trial.user_attrs["run_dir"]).rglob("*.ckpt"))
    assert ended_above_best, "the test needs a trial whose last epoch is not its best"
    assert result.refit is not None and result.refit.reproduced
    assert result.refit.value == pytest.approx(study.best_value)
    # The refit tested the checkpoint of that best epoch.
    best_file = Path(result.refit.run_dir, "checkpoints")
    assert [p.name for p in best_file.glob("epoch_*.ckpt")] == [
        f"epoch_{study.best_trial.user_attrs['best_epoch']:03d}-val_loss_{study.best_value:.4f}.ckpt"
    ]
