"""train(): every experiment preset runs, and a run leaves one complete folder and no global state."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra

from trainer.config import compose_config, group_options
from trainer.train import RunResult, train

from .conftest import data_overrides, write_tiny_csv

EXPERIMENTS = group_options()["experiment"]
EXPECTED_CHOICES = {  # what each preset picks, read from conf/experiment/*.yaml
    "breast_cancer_mlp": {"data": "breast_cancer", "optimizer": "adamw", "scheduler": "onecycle"},
    "csv_table": {"data": "csv", "model": "mlp", "optimizer": "adam"},
    "diabetes_regression": {"data": "diabetes", "scheduler": "performance"},
    "digits_mlp": {"data": "digits", "optimizer": "nesterov", "scheduler": "exponential"},
    "fraud_oracle_mlp": {"data": "fraud_oracle", "model": "mlp"},
    "synthetic_autoencoder": {"data": "synthetic_classification", "model": "autoencoder"},
    "fraud_autoencoder": {"data": "fraud_claims", "model": "autoencoder"},
    "fraud_weighted": {"data": "fraud_claims", "model": "tabular_embedding"},
    "digits_cnn": {"data": "digits_images", "model": "cnn"},
    "fashion_mnist_cnn": {"data": "fashion_mnist", "model": "cnn"},
    "temperature_gru": {"data": "temperature_synthetic", "model": "gru"},
    "temperature_lstm": {"data": "temperature_synthetic", "model": "lstm"},
    "jena_gru": {"data": "jena_climate", "model": "gru"},
    "text_tfidf_mlp": {"data": "text_csv", "model": "mlp"},
    "text_embedding_bag": {"data": "text_csv", "model": "embedding_bag"},
}
FAST = ["trainer.fast_dev_run=true", "logger=none", "trainer.accelerator=cpu"]


def test_every_preset_is_listed_here() -> None:
    assert set(EXPECTED_CHOICES) == set(EXPERIMENTS)


# Loading and one-hot encoding the 15,420 real rows takes seconds; the walk over every option
# composes and builds this preset in the quick run already.
SLOW_RUNS = {"fraud_oracle_mlp"}


@pytest.mark.parametrize(
    "experiment",
    [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_RUNS else name for name in EXPERIMENTS],
)
def test_experiment_preset_composes_and_runs(experiment: str, tmp_path: Path) -> None:
    csv_path = write_tiny_csv(tmp_path / "table.csv")
    overrides = [
        f"experiment={experiment}",
        *data_overrides(experiment, csv_path),
        *FAST,
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]
    composed = compose_config(overrides)
    for group, option in EXPECTED_CHOICES[experiment].items():
        assert composed.choices[group] == option
    assert composed.cfg.run_name == experiment

    result = train(composed)
    assert isinstance(result, RunResult)
    assert result.run_dir.parent == tmp_path / "runs"
    assert math.isfinite(result.metrics["val/loss"])
    assert math.isfinite(result.metrics["test/loss"])
    assert len(result.history) == 1  # fast_dev_run: one epoch of one batch
    assert result.history[0]["step"] == 1
    assert not GlobalHydra.instance().is_initialized()


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, list[str], Path, Path]:
    """One real two-epoch run on breast_cancer, started from a working directory of its own."""
    base = tmp_path_factory.mktemp("short_run")
    cwd = base / "cwd"
    cwd.mkdir()
    overrides = [
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        "logger=none",
        f"paths.runs_dir={base / 'runs'}",
        "optimizer.lr=0.01",
    ]
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        result = train(compose_config(overrides))
        assert os.getcwd() == str(cwd), "train() must not change the working directory"
    finally:
        os.chdir(old_cwd)
    return result, overrides, base, cwd


def test_run_returns_validation_and_test_metrics(short_run: tuple[RunResult, list[str], Path, Path]) -> None:
    result = short_run[0]
    for name in ("val/loss", "val/accuracy", "val/roc_auc", "test/loss", "test/accuracy", "test/roc_auc"):
        assert math.isfinite(result.metrics[name]), name
    assert result.metrics["test/accuracy"] > 0.8  # breast_cancer is easy; a broken pipeline is not
    assert [row["epoch"] for row in result.history] == [1, 2]


def test_run_writes_one_folder_with_config_overrides_log_and_checkpoints(
    short_run: tuple[RunResult, list[str], Path, Path],
) -> None:
    result, overrides, base, cwd = short_run
    runs = list((base / "runs").iterdir())
    assert runs == [result.run_dir]
    assert list(cwd.iterdir()) == []  # nothing written where the run was started

    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["trainer"]["max_epochs"] == 2
    assert saved["optimizer"]["lr"] == 0.01
    assert saved["paths"]["run_dir"] == str(result.run_dir)
    assert saved["data"]["seed"] == 42  # interpolations are resolved in config.yaml

    assert yaml.safe_load((result.run_dir / ".hydra" / "overrides.yaml").read_text()) == overrides
    unresolved = yaml.safe_load((result.run_dir / ".hydra" / "config.yaml").read_text())
    assert unresolved["data"]["seed"] == "${seed}"

    log = (result.run_dir / "train.log").read_text()
    assert "Finished" in log and str(result.run_dir) in log

    checkpoints = result.run_dir / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    assert result.last_checkpoint == str(checkpoints / "last.ckpt")
    assert Path(result.best_checkpoint).parent == checkpoints and Path(result.best_checkpoint).is_file()

    written = json.loads((result.run_dir / "metrics.json").read_text())
    assert written == pytest.approx(result.metrics)


def test_train_leaves_no_log_handlers_behind(short_run: tuple[RunResult, list[str], Path, Path]) -> None:
    import logging

    handlers = logging.getLogger("trainer").handlers
    assert not any(isinstance(h, logging.FileHandler) for h in handlers)
    assert not GlobalHydra.instance().is_initialized()
