"""The compose stack without Docker, for real: the compose file's own `mlflow server` command on
127.0.0.1 backed by the local PostgreSQL, the init script, a training run and two sweep workers
(the compose worker's command) logging to it."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .files import ROOT, as_list, compose_file

pytestmark = pytest.mark.slow

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent


def _init_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("init_stack", ROOT / "docker" / "init_stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replace(words: list[str], key: str, value: str) -> list[str]:
    """``words`` with ``key=...`` set to ``value`` (appended when absent)."""
    out = [w for w in words if not w.startswith(f"{key}=")]
    return [*out, f"{key}={value}"]


@pytest.fixture(scope="module")
def databases() -> Iterator[dict[str, str]]:
    """Two fresh databases (MLflow's and Optuna's), made by the init script, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is the project's postgres extra")
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 for user postgres: {str(exc).strip()[:120]}")
    suffix = uuid.uuid4().hex[:10]
    names = {"mlflow": f"mlflow_test_{suffix}", "optuna": f"optuna_test_{suffix}"}
    created = _init_stack().create_databases(PG_ADMIN, list(names.values()), wait_s=5)
    assert sorted(created) == sorted(names.values())
    try:
        yield {k: f"postgresql://postgres@127.0.0.1:5432/{v}" for k, v in names.items()}
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[Any]) -> None:
    """Stop a process started in its own session, and everything it started."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(databases: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The compose file's `mlflow server` command, with its backend, artifact folder, host and port
    pointed at this machine; everything else (the allowed hosts among them) as the compose file says."""
    words = as_list(compose_file()["services"]["mlflow"]["command"])
    port = _free_port()
    artifacts = tmp_path_factory.mktemp("mlflow-artifacts")
    values = {
        "--host": "127.0.0.1",
        "--port": str(port),
        "--backend-store-uri": databases["mlflow"].replace("postgresql://", "postgresql+psycopg://"),
        "--artifacts-destination": str(artifacts),
        "--workers": "1",
    }
    args = [values.get(words[i - 1], w) if i else w for i, w in enumerate(words)]
    log = tmp_path_factory.mktemp("mlflow-log") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "mlflow"), *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"mlflow server exited: {log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"mlflow server did not answer: {log.read_text()[-3000:]}"
            time.sleep(1)
        yield {"uri": uri, "artifacts": artifacts, "optuna": databases["optuna"]}
    finally:
        _stop(process)


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_train_logs_to_the_server(server: dict[str, Any], tmp_path: Path) -> None:
    """`trainer train` on CPU records a FINISHED run, with its artifacts in the server's folder."""
    from mlflow.tracking import MlflowClient

    _run(
        [
            str(BIN / "trainer"),
            "train",
            f"logger.tracking_uri={server['uri']}",
            "logger.experiment_name=deploy-train",
            "trainer=cpu",
            "trainer.max_epochs=2",
            "logger.log_model=false",
        ],
        cwd=tmp_path,
    )
    client = MlflowClient(tracking_uri=server["uri"])
    experiment = client.get_experiment_by_name("deploy-train")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert any(k.startswith("test/") for k in runs[0].data.metrics), runs[0].data.metrics
    assert client.list_artifacts(runs[0].info.run_id), "no artifacts recorded"
    assert any(p.is_file() for p in server["artifacts"].rglob("*")), "artifacts did not reach the volume"


def test_init_then_two_workers_share_one_study(server: dict[str, Any], tmp_path: Path) -> None:
    """The init script, then two `trainer sweep` processes with the compose worker's command: one
    study of 4 trials, one parent run, 4 FINISHED child runs under it."""
    import optuna
    from mlflow.tracking import MlflowClient

    worker = as_list(compose_file()["services"]["worker"]["command"])
    overrides = worker[1:]
    for key, value in {
        "sweep.storage": server["optuna"],
        "logger.tracking_uri": server["uri"],
        "trainer": "cpu",
        "sweep.n_trials": "4",
        "trainer.max_epochs": "1",
        "sweep.pruner": "none",
        "sweep.plots": "false",
        "logger.log_model": "false",
    }.items():
        overrides = _replace(overrides, key, value)
    study_name = next(w.split("=", 1)[1] for w in overrides if w.startswith("sweep.study_name="))
    experiment_name = next(w.split("=", 1)[1] for w in overrides if w.startswith("logger.experiment_name="))

    said = _run(
        [sys.executable, str(ROOT / "docker" / "init_stack.py"), "study", *overrides],
        cwd=tmp_path,
        env={"HOSTNAME": "init"},
    )
    assert "parent run" in said
    workers = []
    for index in range(2):
        out = (tmp_path / f"worker{index}.log").open("w")
        workers.append(
            (
                subprocess.Popen(
                    [str(BIN / "trainer"), "sweep", *overrides],
                    cwd=tmp_path,
                    env={**os.environ, "HOSTNAME": f"worker{index}"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                out,
            )
        )
    try:
        for process, out in workers:
            process.wait(timeout=1200)
            out.close()
    finally:
        for process, out in workers:
            _stop(process)
            out.close()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text()[-2000:] for i in range(2))
    assert all(p.returncode == 0 for p, _ in workers), logs
    assert {"worker0", "worker1"} <= {p.name for p in (tmp_path / "runs").iterdir()}

    storage = optuna.storages.RDBStorage(server["optuna"].replace("postgresql://", "postgresql+psycopg://"))
    study = optuna.load_study(study_name=study_name, storage=storage)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4, states
    parent_id = study.user_attrs["parent_run_id"]

    client = MlflowClient(tracking_uri=server["uri"])
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    assert [r.info.run_id for r in parents] == [parent_id], "one parent run, the one init made"
    assert parents[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id]
    assert all(r.info.status == "FINISHED" for r in children), [r.info.status for r in children]
    trial_runs = [r for r in children if "sweep.trial" in r.data.tags]
    assert len(trial_runs) == 4, [r.info.run_name for r in children]
    completed_ids = {t.user_attrs["run_id"] for t in study.trials if t.state.name == "COMPLETE"}
    assert completed_ids == {r.info.run_id for r in trial_runs}
    # And one refit of the best trial, by the worker that ran it, on the same server.
    [refit] = [r for r in children if r.data.tags.get("sweep.role") == "best"]
    assert refit.data.tags["sweep.refit_of"] == str(study.best_trial.number)
