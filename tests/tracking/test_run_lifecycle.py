"""How a run ends in MLflow: FAILED with the error, resumed into the same run, KILLED by Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trainer.config import compose_config
from trainer.errors import NonFiniteLossError
from trainer.train import train

from .conftest import Store, base_overrides, list_artifacts, metric_steps

pytestmark = pytest.mark.slow

SHORT = ("data=breast_cancer", "trainer.log_every_n_steps=1", "logger.log_model=false")


@dataclass
class TrainerProcess:
    process: subprocess.Popen[bytes]
    store: Store
    output: Path


@pytest.fixture(scope="module", autouse=True)
def trainer_process(store_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainerProcess]:
    """`trainer train` in a subprocess with no end in sight, started with the module: its
    imports (15-20 s) overlap the other tests; the last test interrupts it with Ctrl-C."""
    tmp = tmp_path_factory.mktemp("interrupted")
    store = store_factory(tmp / "store")
    overrides = base_overrides(
        store.uri,
        tmp,
        *SHORT,
        "trainer.max_epochs=100000",
        "callbacks.early_stopping=null",
        "logger.flush_interval=0.2",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    command = [str(Path(sys.executable).parent / "trainer"), "train", *overrides]
    output = tmp / "trainer.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield TrainerProcess(process=process, store=store, output=output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_nan_loss_ends_the_run_failed_with_the_error(sqlite_store: Store, tmp_path: Path) -> None:
    overrides = base_overrides(
        sqlite_store.uri, tmp_path, *SHORT, "optimizer=sgd", "optimizer.lr=1e10", "trainer.max_epochs=3"
    )
    with pytest.raises(NonFiniteLossError) as caught:
        train(compose_config(overrides))

    (run,) = sqlite_store.runs()
    assert run.info.status == "FAILED"
    assert run.info.end_time is not None
    error = run.data.tags["error"]
    assert error.startswith("NonFiniteLossError: The training loss became nan")
    assert error == f"NonFiniteLossError: {caught.value}"
    # Every step logged before the failing one was delivered, and nothing after it.
    failing_step = int(re.search(r"step (\d+)", error).group(1))  # type: ignore[union-attr]
    assert failing_step > 1
    steps = metric_steps(sqlite_store.client, run.info.run_id, "train/loss_step")
    assert steps == list(range(1, failing_step))
    assert run.data.params["optimizer.lr"] == "10000000000.0"
    assert "train.log" in list_artifacts(sqlite_store.client, run.info.run_id)


def test_resuming_a_checkpoint_continues_the_same_run(sqlite_store: Store, tmp_path: Path) -> None:
    client = sqlite_store.client
    first = train(compose_config(base_overrides(sqlite_store.uri, tmp_path, *SHORT, "trainer.max_epochs=2")))
    assert first.last_checkpoint.endswith("last.ckpt")
    resumed = train(
        compose_config(
            base_overrides(
                sqlite_store.uri,
                tmp_path,
                *SHORT,
                "trainer.max_epochs=4",
                # Quoted: run folder names hold '=' (e.g. max_epochs=2), which Hydra refuses bare.
                f"ckpt_path='{first.last_checkpoint}'",
            )
        )
    )

    assert resumed.tracking_run_id == first.tracking_run_id
    (run,) = sqlite_store.runs()
    run_id = run.info.run_id
    assert run_id == first.tracking_run_id
    assert run.info.status == "FINISHED"

    history = first.history + resumed.history
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    per_epoch = int(history[0]["step"])
    expected_steps = [per_epoch * epoch for epoch in (1, 2, 3, 4)]
    assert [row["step"] for row in history] == expected_steps
    for key in ("train/loss", "val/loss", "epoch"):
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        assert [m.step for m in points] == expected_steps, key  # one per epoch: no duplicate, no gap
        assert [m.value for m in points] == pytest.approx([row[key] for row in history]), key
    assert metric_steps(client, run_id, "train/loss_step") == list(range(1, 4 * per_epoch + 1))
    assert metric_steps(client, run_id, "lr") == [0, per_epoch, 2 * per_epoch, 3 * per_epoch]
    assert metric_steps(client, run_id, "test/loss") == [2 * per_epoch, 4 * per_epoch]  # each fit is tested

    # MLflow refuses to change a logged param: the first value stays, the new one is a tag.
    assert run.data.params["trainer.max_epochs"] == "2"
    assert run.data.tags["resumed.trainer.max_epochs"] == "4"
    assert run.data.tags["resumed.ckpt_path"] == first.last_checkpoint


def test_ctrl_c_ends_the_run_killed(trainer_process: TrainerProcess) -> None:
    process, store, output = trainer_process.process, trainer_process.store, trainer_process.output
    client = store.client
    run_id = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        runs = store.runs()
        if runs and client.get_metric_history(runs[0].info.run_id, "train/loss_step"):
            run_id = runs[0].info.run_id
            break
        time.sleep(0.5)
    assert run_id is not None, f"training never started:\n{output.read_text()[-3000:]}"
    assert client.get_run(run_id).info.status == "RUNNING"
    process.send_signal(signal.SIGINT)
    returncode = process.wait(120)
    text = output.read_text()
    assert returncode == 130, text[-3000:]
    assert "Interrupted" in text

    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None
    assert "error" not in run.data.tags
    # Everything buffered when Ctrl-C came was delivered before the run was closed.
    steps = metric_steps(client, run_id, "train/loss_step")
    assert steps == list(range(1, len(steps) + 1))
    assert "train.log" in list_artifacts(client, run_id)
