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
from trainer.sweep.trial_budget import counted_trials

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


# ``trainer sweep`` that SIGKILLs itself the moment it sets a given study attribute: a kill at
# an exact point between two of its writes.
_KILLED_AT_ATTR = """
import os, signal, sys
import optuna
from trainer.cli import main

attr, args = sys.argv[1], sys.argv[2:]
real = optuna.Study.set_user_attr

def set_user_attr(self, key, value):
    if key == attr:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, key, value)

optuna.Study.set_user_attr = set_user_attr
sys.exit(main(["sweep", *args]))
"""


def sweep_killed_at(attr: str, args: Sequence[str], *, cwd: Path, log: Path) -> int:
    """Run ``trainer sweep <args>`` in ``cwd``, killed as it sets the study attribute ``attr``;
    return its exit code (-9 when the kill came)."""
    env = {**os.environ, ENV_CONF_DIR: str(conf_dir()), "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        command = [sys.executable, "-c", _KILLED_AT_ATTR, attr, *args]
        return subprocess.run(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600
        ).returncode


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
