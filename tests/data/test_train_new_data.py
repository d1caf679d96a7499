"""End to end: ``train()`` runs each new data option for an epoch and records what fits it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trainer.config import compose_config
from trainer.train import train

from .helpers_files import write_tiny_fashion_mnist, write_tiny_jena

FAST = [
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "logger=none",
    "callbacks.progress=null",
]


def _run(tmp_path: Path, overrides: list[str]) -> dict[str, float]:
    result = train(compose_config([*overrides, *FAST, f"paths.runs_dir={tmp_path / 'runs'}"]))
    assert math.isfinite(result.metrics["test/loss"])
    assert json.loads((result.run_dir / "metrics.json").read_text())["test/loss"] is not None
    assert not (result.run_dir / "model").exists()  # only tables are packaged
    return result.metrics


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_digits_images(model: str, tmp_path: Path) -> None:
    overrides = ["data=digits_images", f"model={model}", "data.limit_train=300"]
    if model == "cnn":
        augment = "data.augment={_target_:trainer.data.ImageAugment,max_shift:1.0,max_rotation:5.0}"
        overrides += ["model.channels=[8,16]", "model.hidden=16", augment]
    metrics = _run(tmp_path, overrides)
    assert 0.0 <= metrics["test/accuracy"] <= 1.0


def test_fashion_mnist_through_a_dataloader(tmp_path: Path) -> None:
    folder = write_tiny_fashion_mnist(tmp_path / "fm")
    metrics = _run(
        tmp_path,
        [
            "experiment=fashion_mnist_cnn",
            f"data.folder={folder}",
            "data.verify_md5=false",
            "data.num_workers=0",
            "data.batch_size=16",
            "model.channels=[4,8]",
            "model.hidden=8",
        ],
    )
    assert "test/accuracy" in metrics


@pytest.mark.parametrize("model", ["gru", "lstm"])
def test_temperature_synthetic_reports_the_naive_forecast(model: str, tmp_path: Path) -> None:
    metrics = _run(
        tmp_path,
        [
            "data=temperature_synthetic",
            f"model={model}",
            "data.source.n_days=40",
            "model.hidden_size=8",
            "trainer.gradient_clip_val=1.0",
        ],
    )
    assert metrics["test/naive_mae"] > 0 and math.isfinite(metrics["test/mae"])


def test_jena_climate_csv(tmp_path: Path) -> None:
    path = write_tiny_jena(tmp_path / "jena.csv", rows=900)
    metrics = _run(
        tmp_path,
        [
            "experiment=jena_gru",
            f"data.source.path={path}",
            "data.lookback=72",
            "data.horizon=12",
            "data.stride=1",
            "model.hidden_size=8",
        ],
    )
    assert "test/naive_mae" in metrics


@pytest.mark.parametrize(
    ("experiment", "features"),
    [("text_tfidf_mlp", "tfidf"), ("text_tfidf_mlp", "bow"), ("text_embedding_bag", "ids")],
)
def test_text(experiment: str, features: str, tmp_path: Path) -> None:
    metrics = _run(tmp_path, [f"experiment={experiment}", f"data.features={features}", "data.n_docs=200"])
    assert 0.0 <= metrics["test/accuracy"] <= 1.0


def test_a_sequence_run_in_a_real_mlflow_store(tmp_path: Path) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [
        "data=temperature_synthetic",
        "model=gru",
        "data.source.n_days=30",
        "model.hidden_size=4",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        "logger=mlflow",
        f"logger.tracking_uri={uri}",
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]
    result = train(compose_config(overrides))
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(str(result.tracking_run_id))
    assert run.data.metrics["test/naive_mae"] == pytest.approx(result.metrics["test/naive_mae"])
    assert result.model_uri is None
