"""Adding a task is one Objective subclass: train, figures and the packaged model need no switch.

The test registers a task the package does not ship (median regression, an L1 loss with its
own metric and figure) and runs it end to end through ``train()``: if any layer still
compared task names, this run would fail there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from trainer.config import compose_config
from trainer.tasks import OBJECTIVES, RegressionObjective
from trainer.train import train


class MedianObjective(RegressionObjective):
    """Absolute error; reports the median absolute error, which is better when lower."""

    name: ClassVar[str] = "median"
    default_monitor: ClassVar[tuple[str, str]] = ("median_ae", "min")

    @classmethod
    def from_options(cls, options: dict[str, Any], *, train_labels: torch.Tensor) -> MedianObjective:
        return cls(loss="mae")

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        errors = (outputs.float().reshape(-1) - targets.float().reshape(-1)).abs()
        return {**super().metrics(outputs, targets), "median_ae": float(errors.median())}

    @classmethod
    def direction(cls, metric: str) -> str:
        return "min" if metric.endswith("median_ae") else super().direction(metric)

    def figures(
        self, predictions: np.ndarray, labels: np.ndarray, *, classes: list[Any], directory: Path
    ) -> list[Path]:
        path = directory / "median_errors.txt"
        path.write_text(f"{np.median(np.abs(predictions - labels)):.6f}\n")
        return [path]

    @classmethod
    def prediction_frame(
        cls, outputs: torch.Tensor, inputs: torch.Tensor, meta: dict[str, Any]
    ) -> pd.DataFrame:
        return pd.DataFrame({"median_prediction": outputs.reshape(-1).numpy()})


@pytest.fixture
def median_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OBJECTIVES, MedianObjective.name, MedianObjective)


def test_a_registered_task_trains_draws_and_packages_without_other_changes(
    median_task: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    composed = compose_config(
        [
            "data=diabetes",
            "objective.name=median",
            "trainer.max_epochs=3",
            "trainer.accelerator=cpu",
            "callbacks.progress=null",
            f"logger.tracking_uri={uri}",
            f"paths.runs_dir={tmp_path / 'runs'}",
        ]
    )
    result = train(composed)

    # The objective's own default monitor ranked the checkpoints.
    assert "val_median_ae" in Path(result.best_checkpoint).name
    assert result.metrics["test/median_ae"] >= 0
    # Its figure was drawn and recorded.
    assert (result.run_dir / "figures" / "median_errors.txt").is_file()
    client = mlflow.MlflowClient(uri)
    figures = [a.path for a in client.list_artifacts(result.tracking_run_id, "figures")]
    assert "figures/median_errors.txt" in figures
    # The packaged model answers with the objective's prediction columns.
    assert result.model_uri is not None
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model(result.model_uri)
    finally:
        mlflow.set_tracking_uri("")
    from sklearn.datasets import load_diabetes

    rows = load_diabetes(as_frame=True).frame.drop(columns=["target"]).head(4)
    predictions = model.predict(rows)
    assert list(predictions.columns) == ["median_prediction"]
    assert len(predictions) == 4 and np.isfinite(predictions["median_prediction"]).all()
