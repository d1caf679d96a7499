"""Regression: MSE or MAE on one or more target columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from trainer.errors import ConfigError, DataError
from trainer.tasks.base import Objective
from trainer.tasks.metrics import regression_metrics

REGRESSION_LOSSES = ("mse", "mae")


class RegressionObjective(Objective):
    """Mean squared or mean absolute error.

    Args:
        loss: ``"mse"`` or ``"mae"``.
    """

    name: ClassVar[str] = "regression"
    default_monitor: ClassVar[tuple[str, str]] = ("loss", "min")
    needs_classes: ClassVar[bool] = False
    stratify: ClassVar[bool] = False
    error_metric: ClassVar[str | None] = "mse"

    def __init__(self, *, loss: str = "mse") -> None:
        if loss not in REGRESSION_LOSSES:
            raise ConfigError(
                f"objective.regression_loss={loss!r} is not known; choose one of "
                f"{', '.join(REGRESSION_LOSSES)}."
            )
        self.loss_name = loss

    @classmethod
    def from_options(cls, options: dict[str, Any], *, train_labels: torch.Tensor) -> RegressionObjective:
        return cls(loss=str(options.get("regression_loss", "mse")))

    @classmethod
    def encode_labels(cls, target: pd.Series, *, column: str, where: str) -> tuple[np.ndarray, list[Any]]:
        numeric = pd.to_numeric(target, errors="coerce")
        if numeric.isna().any():
            raise DataError(
                f"data.target={column!r} in {where} must be numeric for regression; "
                f"it holds {target[numeric.isna()].iloc[0]!r}."
            )
        return numeric.to_numpy(dtype=np.float32), []

    def output_size(self, *, num_features: int, num_classes: int) -> int:
        return 1

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        targets = targets.reshape(outputs.shape).to(outputs.dtype)
        if self.loss_name == "mae":
            return F.l1_loss(outputs, targets)
        return F.mse_loss(outputs, targets)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().squeeze(-1) if outputs.shape[-1] == 1 else outputs.float()

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        y_pred = outputs.float().reshape(len(outputs), -1).cpu().numpy()
        y_true = targets.float().reshape(len(targets), -1).cpu().numpy()
        return regression_metrics(y_true, y_pred)

    def trivial_outputs(self, train_targets: torch.Tensor, *, rows: int, width: int) -> torch.Tensor:
        mean = train_targets.float().reshape(len(train_targets), -1).mean(dim=0)  # (targets,)
        return mean.expand(rows, -1).clone()

    def figures(
        self, predictions: np.ndarray, labels: np.ndarray, *, classes: list[Any], directory: Path
    ) -> list[Path]:
        from trainer import plots  # matplotlib loads only when a run draws figures

        y_true = labels.reshape(len(labels), -1)[:, 0]
        y_pred = predictions.reshape(len(predictions), -1)[:, 0]
        return [plots.residuals(y_true, y_pred, directory / "residuals.png")]
