"""Real ``trainer train`` processes: four at once on a fresh SQLite store, and runs killed with
SIGKILL at random moments, then resumed or uploaded, compared point by point with a run that
was never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from trainer.tracking.journal import JOURNAL_NAME, read_journal

from .conftest import EXPERIMENT

TRAINER = str(Path(sys.executable).with_name("trainer"))
# Small and deterministic: 6 short epochs of per-step points, so a kill lands anywhere.
RUN = [
    "data=breast_cancer",
    "trainer.max_epochs=6",
    "trainer.log_every_n_steps=1",
    "logger.log_model=false",
    "logger.log_checkpoints=false",
    "logger.flush_interval=0.2",
    "trainer.accelerator=cpu",
    "callbacks.progress=null",
    "seed=7",
]


def trainer(tmp: Path, uri: str, *args: str) -> list[str]:
    return [TRAINER, "train", *RUN, f"logger.tracking_uri={uri}", f"paths.runs_dir={tmp / 'runs'}", *args]


def run_ok(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def history(client: Any, run_id: str) -> dict[tuple[str, int], list[float]]:
    """Every (key, step) of the run with all the values stored for it."""
    points: dict[tuple[str, int], list[float]] = {}
    for key in client.get_run(run_id).data.metrics:
        for m in client.get_metric_history(run_id, key):
            points.setdefault((key, m.step), []).append(m.value)
    return points


def client_for(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_four_runs_started_together_on_a_fresh_store_all_succeed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [
        TRAINER,
        "train",
        "data=breast_cancer",
        "trainer.max_epochs=1",
        "logger.log_model=false",
        "trainer.accelerator=cpu",
        f"logger.tracking_uri={uri}",
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]
    # An empty cache: the four race through MLflow's migrations, not a copy of a migrated store.
    env = {**os.environ, "TRAINER_CACHE_DIR": str(tmp_path / "cache")}
    processes = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
        assert "Traceback" not in output
    client = client_for(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 4
    assert list((tmp_path / "cache").glob("mlflow-*-empty.db"))  # the next fresh store is a copy


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], list[float]]:
    """The uninterrupted run's history."""
    tmp = tmp_path_factory.mktemp("reference")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    run_ok(trainer(tmp, uri, "run_name=ref"), tmp)
    client = client_for(uri)
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    return history(client, run.info.run_id)


def kill_at(command: list[str], cwd: Path, delay: float) -> Path:
    """Start a run, SIGKILL it ``delay`` seconds after its journal appears; return its folder."""
    before = set((cwd / "runs").glob(f"*/{JOURNAL_NAME}"))
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 300
    journals: set[Path] = set()
    while time.monotonic() < end and not journals and process.poll() is None:
        journals = set((cwd / "runs").glob(f"*/{JOURNAL_NAME}")) - before
        time.sleep(0.02)
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert journals, "the run never started"
    return journals.pop().parent


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_runs_resumed_or_uploaded_hold_every_point_once(
    seed: int, reference: dict[tuple[str, int], list[float]], tmp_path: Path
) -> None:
    """kill -9 at a random moment (fixed per seed), sometimes twice; resume from last.ckpt, or
    upload when no checkpoint was written yet; the history must equal the uninterrupted one."""
    rng = random.Random(seed)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_dir = kill_at(trainer(tmp_path, uri, "run_name=killed"), tmp_path, rng.uniform(0.0, 4.0))
    for _ in range(rng.choice([1, 2])):  # kill the resumed run too, sometimes
        ckpt = run_dir / "checkpoints" / "last.ckpt"
        if not ckpt.is_file():
            break
        run_dir = kill_at(trainer(tmp_path, uri, f"ckpt_path={ckpt}"), tmp_path, rng.uniform(0.0, 3.0))
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    client = client_for(uri)
    if ckpt.is_file():
        run_ok(trainer(tmp_path, uri, f"ckpt_path={ckpt}"), tmp_path)
        expected_status, expected = "FINISHED", reference
    else:  # killed before its first checkpoint: upload what it journaled, closed as KILLED
        run_ok([TRAINER, "upload", str(run_dir)], tmp_path)
        expected_status = "KILLED"
        journaled = read_journal(run_dir / JOURNAL_NAME).records
        pairs = {(r["key"], r["step"]) for r in journaled if r["kind"] == "metric"}
        expected = {k: v for k, v in reference.items() if k in pairs}
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.status == expected_status
    got = history(client, run.info.run_id)
    duplicates = {k: v for k, v in got.items() if len(v) > 1}
    assert duplicates == {}, "every (key, step) once"
    assert set(expected) <= set(got), f"missing {sorted(set(expected) - set(got))[:5]}"
    if expected is reference:
        assert set(got) == set(reference), f"extra {sorted(set(got) - set(reference))[:5]}"
    else:  # an earlier process may have delivered points past the checkpoint that the uploaded
        # one, killed before its replay got that far, never journaled: they are there once too
        assert set(got) <= set(reference), f"extra {sorted(set(got) - set(reference))[:5]}"
    # perf/* are wall-clock measurements (samples per second): present once, values differ by nature.
    same = {k: v for k, v in got.items() if not k[0].startswith("perf/")}
    assert same == {k: reference[k] for k in same}, "the replay produced the same values"
