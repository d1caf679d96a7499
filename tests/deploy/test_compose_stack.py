"""The compose stack on CPU, for real, with a Docker engine and Compose v2 (only when asked for:
see engine.py): `docker compose -f docker-compose.yml -f docker-compose.cpu.yml up --build
--scale worker=2` with a 4-trial study runs PostgreSQL, the MLflow server, the one-shot set-up
and two workers, which finish the study into one parent run on the server.

It builds and tags the images the compose file names (trainer, trainer-mlflow, trainer-postgres:
latest), as `up --build` does, on the bases TRAINER_TEST_PYTHON_IMAGE and
TRAINER_TEST_POSTGRES_IMAGE name, and removes its containers, network and volumes afterwards."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from typing import Any

import pytest

from .engine import Engine, compose_command, find_engine, postgres_base, python_base
from .files import COMPOSE_FILE, CPU_COMPOSE_FILE, ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TRIALS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _states(compose: list[str], env: dict[str, str]) -> list[dict[str, Any]]:
    listed = subprocess.run(
        [*compose, "ps", "-a", "--format", "json", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = listed.stdout.strip()
    if text.startswith("["):  # older Compose prints one array, newer one object a line
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cpu_stack_runs_one_study_into_one_parent_run() -> None:
    from mlflow.tracking import MlflowClient

    engine: Engine = find_engine()
    compose_cli = compose_command()
    if compose_cli is None:
        pytest.skip("neither `docker compose` nor a v2 `docker-compose` is installed here")
    project = f"trainer-test-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = {
        **os.environ,
        **engine.env,
        "PYTHON_IMAGE": python_base(engine),
        "POSTGRES_IMAGE": postgres_base(engine),
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "MLFLOW_PORT": str(port),
        "STUDY_NAME": f"test-{uuid.uuid4().hex[:6]}",
        "SWEEP_TRIALS": str(TRIALS),
    }
    compose = [*compose_cli, "-p", project, "-f", str(COMPOSE_FILE), "-f", str(CPU_COMPOSE_FILE)]
    try:
        start = time.monotonic()
        up = subprocess.run(
            [*compose, "up", "--build", "-d", "--scale", "worker=2"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        assert up.returncode == 0, f"compose up failed:\n{up.stdout[-3000:]}\n{up.stderr[-6000:]}"
        up_seconds = time.monotonic() - start
        deadline = time.monotonic() + 1800
        while True:
            states = _states(compose, env)
            if len(states) == 2 and all(s.get("State") == "exited" for s in states):
                break
            assert time.monotonic() < deadline, f"the workers did not finish in 30 min: {states}"
            time.sleep(5)
        done_seconds = time.monotonic() - start
        logs = subprocess.run(
            [*compose, "logs", "--no-color", "init", "worker"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert all(s.get("ExitCode") == 0 for s in states), f"{states}\n{logs[-6000:]}"

        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
        experiment = client.get_experiment_by_name("sweeps")
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id], max_results=200)
        parents = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
        assert len(parents) == 1 and parents[0].info.status == "FINISHED", [r.info.status for r in parents]
        parent_id = parents[0].info.run_id
        trials = [
            r
            for r in runs
            if r.data.tags.get("mlflow.parentRunId") == parent_id and "sweep.trial" in r.data.tags
        ]
        assert len(trials) == TRIALS, [r.info.run_name for r in trials]
        assert all(r.info.status == "FINISHED" for r in trials), [r.info.status for r in trials]
        assert {r.data.tags.get("sweep.trial") for r in trials} == {str(n) for n in range(TRIALS)}
        print(
            f"\nmeasured: compose up (build, postgres, mlflow, init) {up_seconds:.0f} s; study of {TRIALS} "
            f"trials on 2 workers done {done_seconds:.0f} s after start; parent run {parent_id}"
        )
    finally:
        subprocess.run(
            [*compose, "down", "-v", "--remove-orphans"], env=env, cwd=ROOT, capture_output=True, timeout=300
        )
