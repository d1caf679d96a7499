"""Training whose loss stays finite but grows by orders of magnitude is reported, tagged and
stopped; in a sweep such a trial fails with the reason instead of steering the sampler."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from trainer.config.compose import compose_config
from trainer.engine.divergence import divergence
from trainer.sweep.command import multirun_command
from trainer.train import train

# Gradient ascent on a linear regression (SGD with maximize=true): the squared error grows about
# tenfold an epoch and stays finite for tens of epochs, like a learning rate far too high.
ASCENT = [
    "data=synthetic_regression",
    "model=linear",
    "optimizer=sgd",
    "+optimizer.maximize=true",
    "trainer.max_epochs=40",
    "trainer.accelerator=cpu",
    "callbacks.early_stopping=null",
    "callbacks.progress=null",
    "logger.log_model=false",
    "logger.log_datasets=false",
]


def test_a_loss_ten_thousand_times_the_first_epochs_is_divergence() -> None:
    rows = [{"epoch": e, "train/loss": v} for e, v in enumerate([2.0, 40.0, 1e3, 3e4, 1e6], start=1)]
    said = divergence(rows)
    assert said is not None and "reached 3e+04 at epoch 4, 1.5e+04 times epoch 1's 2" in said
    assert divergence(rows[:3]) is None  # 500 times: a bad start, not divergence
    assert divergence([{"epoch": 1, "train/loss": -1.0}, {"epoch": 2, "train/loss": 1e9}]) is None
    assert divergence([{"epoch": 1, "train/loss": float("nan")}, {"epoch": 2, "train/loss": 1.0}]) is None


def test_a_diverging_run_is_reported_tagged_and_stopped(
    tmp_path: Path, template_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copyfile(template_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [
        *ASCENT,
        "optimizer.lr=0.02",
        f"logger.tracking_uri={uri}",
        f"paths.runs_dir={tmp_path}/runs",
    ]
    with caplog.at_level(logging.WARNING, logger="trainer"):
        result = train(compose_config(overrides))
    assert len(result.history) < 40  # stopped at the epoch it diverged
    assert "Stopping: training diverged: train/loss reached" in caplog.text
    tags = MlflowClient(tracking_uri=uri).get_run(result.tracking_run_id).data.tags
    assert tags["training.diverged"].startswith("training diverged: train/loss reached")


@pytest.mark.slow
def test_a_diverging_sweep_trial_fails_with_the_reason(tmp_path: Path, template_db: Path) -> None:
    shutil.copyfile(template_db, tmp_path / "mlflow.db")
    storage = f"sqlite:///{tmp_path}/optuna.db"
    code = multirun_command(
        [
            "-m",
            "optimizer.lr=0.0001,0.02",
            *ASCENT,
            f"sweep.storage={storage}",
            "sweep.plots=false",
            "sweep.study_name=diverge",
            f"logger.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
            f"paths.runs_dir={tmp_path}/runs",
            "trainer.max_epochs=12",
        ]
    )
    assert code == 0  # the gentle one completed
    trials = {
        t.params["optimizer.lr"]: t for t in optuna.load_study(study_name="diverge", storage=storage).trials
    }
    assert trials["0.02"].state == optuna.trial.TrialState.FAIL
    assert trials["0.02"].user_attrs["fail_reason"].startswith("training diverged: train/loss reached")
    assert trials["0.0001"].state == optuna.trial.TrialState.COMPLETE
