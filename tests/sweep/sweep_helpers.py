"""Shared by the sweep tests: run ``trainer sweep`` as a real process and read its study back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from trainer.config.compose import ENV_CONF_DIR, conf_dir
from trainer.sweep.trials import counted_trials

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def sweep_process(args: Sequence[str], *, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``trainer sweep <args>`` in ``cwd``; its output goes to ``log``."""
    env = {**os.environ, ENV_CONF_DIR: str(conf_dir()), "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "trainer.cli", "sweep", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (KeyError, optuna.exceptions.OptunaError):
            pass  # the study does not exist yet
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def trials_of(storage: str, name: str) -> list[FrozenTrial]:
    """All trials of study ``name`` (a fresh storage object: what another process wrote)."""
    if "://" not in storage:  # a journal file and the like: nothing to close
        return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    # Tests poll this several times a second; each storage left to the garbage collector keeps a
    # database connection open, and on a loaded machine PostgreSQL ran out of them (100).
    rdb = optuna.storages.RDBStorage(storage)
    try:
        return optuna.load_study(study_name=name, storage=rdb).get_trials(deepcopy=False)
    finally:
        rdb.engine.dispose()


def finished_count(trials: Sequence[FrozenTrial]) -> int:
    """Counted trials that have ended (COMPLETE, PRUNED or FAIL)."""
    return sum(t.state in FINISHED for t in counted_trials(trials))


def mlflow_runs(tracking_uri: str) -> list:
    """Every run of the ``trainer`` experiment in the store."""
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("trainer")
    return client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []


def tail(path: Path, n: int = 3000) -> str:
    """The end of a process's log, for assertion messages."""
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no output)"
