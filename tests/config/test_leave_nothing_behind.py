"""A mistake found before training leaves no run folder; a failure during training leaves its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import compose_config
from trainer.errors import DataError, NonFiniteLossError, UserError
from trainer.train import train

from .conftest import write_tiny_csv

FAST = ["trainer.accelerator=cpu", "logger=none", "callbacks.progress=null"]


def test_a_data_error_leaves_no_run_folder(tmp_path: Path) -> None:
    csv_path = write_tiny_csv(tmp_path / "table.csv")
    runs = tmp_path / "runs"
    composed = compose_config(
        [
            "data=csv",
            f"data.source.path={csv_path}",
            "data.target=no_such_column",
            *FAST,
            f"paths.runs_dir={runs}",
        ]
    )
    with pytest.raises(DataError, match="no_such_column"):
        train(composed)
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_checkpoint_of_another_model_leaves_no_run_folder_and_no_tracking_store(tmp_path: Path) -> None:
    first = train(compose_config(["trainer.max_epochs=1", *FAST, f"paths.runs_dir={tmp_path / 'a'}"]))
    runs = tmp_path / "b"
    db = tmp_path / "mlflow.db"
    composed = compose_config(
        [
            f"ckpt_path={first.last_checkpoint}",
            "model.hidden_sizes=[7]",
            "trainer.accelerator=cpu",
            "callbacks.progress=null",
            f"logger.tracking_uri=sqlite:///{db}",
            f"paths.runs_dir={runs}",
        ]
    )
    with pytest.raises(UserError, match=r"does not fit|do not fit|shape"):
        train(composed)
    assert not runs.exists() or list(runs.iterdir()) == []
    assert not db.exists()  # the tracking run never opened


def test_a_failure_during_training_keeps_the_folder_and_its_log_says_why(tmp_path: Path) -> None:
    composed = compose_config(
        ["optimizer=sgd", "optimizer.lr=1e12", "trainer.max_epochs=3", *FAST, f"paths.runs_dir={tmp_path}"]
    )
    with pytest.raises(NonFiniteLossError):
        train(composed)
    (run_dir,) = list(tmp_path.iterdir())
    log_text = (run_dir / "train.log").read_text()
    assert "The run failed" in log_text
    reason = log_text.split("The run failed", 1)[1]
    assert "loss" in reason.lower() and "epoch" in reason.lower()  # the NaN-loss message itself
