"""A trial whose process was killed leaves its tracked run RUNNING; the worker that finds the
trial abandoned closes that run KILLED from the run folder's journal, with what it journaled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from sweep_helpers import mlflow_runs, tail, wait_until

from trainer.config.compose import ENV_CONF_DIR, conf_dir
from trainer.sweep.trial_recovery import close_abandoned_run
from trainer.tracking.journal import JOURNAL_NAME


@pytest.mark.slow
def test_a_killed_trials_run_is_closed_killed_from_its_journal(base: list[str], tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "trial_000"
    log = tmp_path / "train.log"
    args = [*base, "trainer.max_epochs=400", "callbacks.early_stopping=null", f"paths.run_dir={run_dir}"]
    env = {**os.environ, ENV_CONF_DIR: str(conf_dir()), "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        command = [sys.executable, "-m", "trainer.cli", "train", *args]
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=out)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    try:

        def training_and_recorded() -> bool:
            runs = mlflow_runs(uri)
            return bool(runs) and "epoch" in runs[0].data.metrics and runs[0].info.status == "RUNNING"

        wait_until(training_and_recorded, timeout=180, what=f"a recorded epoch; output:\n{tail(log)}")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    [run] = mlflow_runs(uri)
    assert run.info.status == "RUNNING" and (run_dir / JOURNAL_NAME).is_file()  # what a kill leaves

    abandoned = {"run_dir": str(run_dir)}
    close_abandoned_run(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs=abandoned))
    [closed] = mlflow_runs(uri)
    assert closed.info.run_id == run.info.run_id and closed.info.status == "KILLED"
    assert closed.data.metrics["epoch"] >= run.data.metrics["epoch"]  # nothing it had journaled is lost


def test_a_trial_without_a_folder_or_journal_is_left_alone(tmp_path: Path) -> None:
    for attrs in ({}, {"run_dir": str(tmp_path / "never_made")}, {"run_dir": str(tmp_path)}):
        trial = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs=attrs)
        close_abandoned_run(trial)  # nothing to close, and no error
    assert not (tmp_path / JOURNAL_NAME).exists()
