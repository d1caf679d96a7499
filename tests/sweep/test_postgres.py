"""Several ``trainer sweep`` processes on one PostgreSQL study, as on several machines: the total
is exact, they share one parent run, and a worker killed mid-trial has its trial retried through
Optuna's heartbeat. Each test gets a fresh database; skipped where PostgreSQL is not reachable."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from sweep_helpers import finished_count, mlflow_runs, sweep_process, tail, trials_of, wait_until

from trainer.sweep import optuna_private
from trainer.sweep.storage import normalize_url
from trainer.sweep.trial_budget import counted_trials

SERVER = os.environ.get("TRAINER_TEST_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")


def _admin() -> object:
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=3)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database for the test on the local server, dropped after it."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]'")
    name = f"sweep_test_{uuid.uuid4().hex[:12]}"
    try:
        with _admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        pytest.skip(f"PostgreSQL is not reachable at {SERVER} (user postgres, trust auth): {exc}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        with _admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _args(base: list[str], url: str, *extra: str) -> list[str]:
    return [
        "hparams_search=mlp",
        "hparams_search.params.optimizer.choices=[adam,momentum]",
        "sweep.pruner=none",
        "sweep.plots=false",
        f"sweep.storage={url}",
        "sweep.study_name=shared",
        *base,
        *extra,
    ]


@pytest.mark.slow
def test_three_worker_processes_share_one_study_and_the_total_is_exact(
    base: list[str], pg_url: str, tmp_path: Path
) -> None:
    args = _args(base, pg_url, "sweep.n_trials=9")
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [sweep_process(args, cwd=tmp_path, log=log) for log in logs]  # started together
    try:
        for worker, log in zip(workers, logs, strict=True):
            assert worker.wait(timeout=500) == 0, tail(log)
    finally:
        for worker in workers:
            worker.kill()
    trials = trials_of(normalize_url(pg_url), "shared")
    assert len(counted_trials(trials)) == 9 and finished_count(trials) == 9
    assert {t.state for t in counted_trials(trials)} == {TrialState.COMPLETE}
    # Surplus tickets (two workers asked at the same moment) close before training and carry no worker.
    by_worker = {t.user_attrs["worker"]["pid"] for t in counted_trials(trials)}
    assert len(by_worker) >= 2  # they did share the work
    # One parent run, though three processes opened the study at the same moment.
    runs = mlflow_runs(f"sqlite:///{tmp_path}/mlflow.db")
    [parent] = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sum("sweep.trial" in r.data.tags for r in children) == 9
    # The best trial is refit once, by the worker that ran it, though three finished together.
    [refit] = [r for r in children if r.data.tags.get("sweep.role") == "best"]
    best = min(counted_trials(trials), key=lambda t: t.value)
    assert refit.data.tags["sweep.refit_of"] == str(best.number)
    # Three processes ended the study, and each summary metric reached the parent once per step.
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    for metric in ("trials/complete", "best/val/loss"):
        history = [(m.step, m.value) for m in client.get_metric_history(parent.info.run_id, metric)]
        assert history and len(history) == len(set(history)), (metric, history)


@pytest.mark.slow
def test_a_worker_killed_mid_trial_has_its_trial_retried_once(
    base: list[str], pg_url: str, tmp_path: Path
) -> None:
    args = _args(
        base,
        pg_url,
        "sweep.n_trials=4",
        "sweep.heartbeat_interval=1",
        "sweep.grace_period=4",
        "trainer.max_epochs=15",
    )
    url = normalize_url(pg_url)
    victim = sweep_process(args, cwd=tmp_path, log=tmp_path / "victim.log")
    survivor = None
    try:

        def victim_running() -> bool:
            return any(
                t.state == TrialState.RUNNING and t.user_attrs.get("worker", {}).get("pid") == victim.pid
                for t in trials_of(url, "shared")
            )

        wait_until(
            victim_running, timeout=240, what=f"a trial of the victim:\n{tail(tmp_path / 'victim.log')}"
        )
        survivor = sweep_process(args, cwd=tmp_path, log=tmp_path / "survivor.log")
        study = optuna.load_study(study_name="shared", storage=url)
        [running] = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        # As if the victim ran on another machine: only its heartbeat can tell that it died.
        optuna_private.set_trial_user_attr(
            study, running, "worker", {**running.user_attrs["worker"], "host": "another-machine"}
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert survivor.wait(timeout=500) == 0, tail(tmp_path / "survivor.log")
    finally:
        victim.kill()
        if survivor is not None:
            survivor.kill()
    trials = trials_of(url, "shared")
    killed = trials[running.number]
    assert killed.state == TrialState.FAIL
    [retry] = [t for t in trials if t.system_attrs.get("retry_history") == [running.number]]
    assert retry.system_attrs["retry_reason"] == "its worker stopped sending heartbeats"
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    assert len(counted_trials(trials)) == 4 and finished_count(trials) == 4
    assert len(trials) == 5
