"""Real ``trainer train`` processes stopped by SIGTERM or ``kill -9`` mid-epoch, then resumed.

The final ``last.ckpt`` weights must equal an uninterrupted run's, and the MLflow store (SQLite
in ``tmp_path``) must hold each ``(metric, step)`` once with the uninterrupted run's values.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from trainer.engine.checkpoint import load_checkpoint

TRAINER = str(Path(sys.executable).with_name("trainer"))
CONF = Path(__file__).resolve().parents[2] / "conf"
EXPERIMENT = "preemption"
# About 40 batches of 8 an epoch, accumulated in pairs; dropout, Adam and a per-step 1cycle.
RUN = [
    "data=breast_cancer",
    "data.batch_size=8",
    "model.dropout=0.2",
    "optimizer=adam",
    "scheduler=onecycle",
    "trainer.max_epochs=12",
    "trainer.accumulate_grad_batches=2",
    "trainer.log_every_n_steps=1",
    "trainer.accelerator=cpu",
    "callbacks.progress=null",
    "callbacks.early_stopping=null",
    "logger.log_model=false",
    "logger.log_checkpoints=false",
    f"logger.experiment_name={EXPERIMENT}",
    "test_after_fit=false",
    "seed=3",
]
ENV = {**os.environ, "TRAINER_CONF_DIR": str(CONF), "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}


def _command(uri: str, run_dir: Path, *extra: str) -> list[str]:
    return [TRAINER, "train", *RUN, f"logger.tracking_uri={uri}", f"paths.run_dir={run_dir}", *extra]


def _run_ok(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def _stop_once_saved(command: list[str], cwd: Path, ckpt: Path, sig: int) -> subprocess.CompletedProcess[str]:
    """Start a run; once its first periodic checkpoint exists, send ``sig``; wait for the exit."""
    process = subprocess.Popen(
        command, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while not ckpt.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, (
        "the run ended before it could be stopped: " + process.communicate()[1][-3000:]
    )
    os.kill(process.pid, sig)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _points(uri: str) -> tuple[Any, dict[tuple[str, int], list[float]]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    points: dict[tuple[str, int], list[float]] = {}
    for key in run.data.metrics:
        if key.startswith("perf/"):  # timings differ from run to run
            continue
        for m in client.get_metric_history(run.info.run_id, key):
            points.setdefault((key, m.step), []).append(m.value)
    return run, points


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(ckpt)["model"]


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, torch.Tensor], dict[Any, list[float]]]:
    """The uninterrupted run: its final weights and its MLflow points."""
    tmp = tmp_path_factory.mktemp("reference")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    _run_ok(_command(uri, tmp / "run", "trainer.checkpoint_every_n_steps=10"), tmp)
    return _weights(tmp / "run" / "checkpoints" / "last.ckpt"), _points(uri)[1]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_run_stopped_mid_epoch_and_resumed_ends_like_an_uninterrupted_one(sig, reference, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_dir = tmp_path / "run"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    command = _command(uri, run_dir, "trainer.checkpoint_every_n_steps=10")
    stopped = _stop_once_saved(command, tmp_path, ckpt, sig)
    if sig == signal.SIGTERM:
        assert stopped.returncode == 143, stopped.stderr[-3000:]
        assert f"ckpt_path={ckpt}" in stopped.stderr  # the CLI says how to resume
        assert "Traceback" not in stopped.stderr
    else:
        assert stopped.returncode == -signal.SIGKILL
    state = load_checkpoint(ckpt)
    assert 0 < state["global_step"] < 12 * 20  # stopped part-way through the run
    _run_ok([*command, f"ckpt_path={ckpt}"], tmp_path)

    final = _weights(ckpt)
    expected_weights, expected_points = reference
    assert final.keys() == expected_weights.keys()
    for name, value in expected_weights.items():
        assert torch.equal(final[name], value), name
    run, got = _points(uri)
    assert run.info.status == "FINISHED"
    assert {k: v for k, v in got.items() if len(v) > 1} == {}, "every (key, step) once"
    assert {k: v for k, v in got.items() if k in expected_points} == {
        k: v for k, v in expected_points.items() if k in got
    }, "the replay produced the same values"
    resumed_at = state["global_step"]
    after = {k for k in expected_points if k[1] > resumed_at}
    assert after <= set(got), "every point after the checkpoint"

    # Nothing missing either, after kill -9 too: the logger journals what it holds before every
    # checkpoint is written, and the resume delivers it. (perf/* are wall-clock values.)
    def stable(points: dict) -> dict:  # type: ignore[type-arg]
        return {k: v for k, v in points.items() if not k[0].startswith("perf/")}

    assert stable(got) == stable(expected_points)
