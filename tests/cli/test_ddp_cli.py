"""``trainer train trainer.strategy=ddp trainer.devices=2``: the command starts 2 processes under torchrun.

The run must leave what a one-process run leaves, once: one run folder, one MLflow run (SQLite in
tmp_path) with the test metrics, checkpoints and the packaged model, and one metrics table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.cli import main

from .conftest import RunCli


@pytest.mark.slow
def test_two_devices_make_one_run_folder_and_one_mlflow_run(run_cli: RunCli, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    runs = tmp_path / "runs"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run_cli(
        "train",
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
        "callbacks.progress=null",
        f"logger.tracking_uri={uri}",
        "logger.experiment_name=ddp",
        f"paths.runs_dir={runs}",
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert done.stdout.count("Final metrics") == 1  # rank 0 prints; rank 1 stays quiet
    (run_dir,) = runs.iterdir()
    assert {"config.yaml", "train.log", "metrics.json", "checkpoints", "model"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    # Beside it only the store: the database (and its lock) and MLflow's artifact root.
    others = {p.name for p in tmp_path.iterdir()} - {"runs", "mlruns"}
    assert all(name.startswith("mlflow.db") for name in others), others

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("ddp")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.strategy"] == "ddp" and run.data.tags["world_size"] == "2"
    assert {"test/loss", "test/accuracy", "val/loss"} <= set(run.data.metrics)
    assert run.data.tags.get("model_uri")  # the packaged model, logged once by rank 0


def test_a_bad_strategy_or_device_count_is_one_error_line_and_nothing_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(["train", "trainer.strategy=fsdp", "logger=none", f"paths.runs_dir={tmp_path / 'runs'}"])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: trainer.strategy='fsdp' is not known") and "\n" not in error
    status = main(["train", "trainer.devices=0", "logger=none"])
    assert status == 2
    assert "trainer.devices=0 must be a number of devices" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
