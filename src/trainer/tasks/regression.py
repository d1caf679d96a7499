"""Regression: MSE or MAE on one or more target columns."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from trainer.errors import ConfigError
from trainer.tasks.base import Objective
from trainer.tasks.metrics import regression_metrics

REGRESSION_LOSSES = ("mse", "mae")


class RegressionObjective(Objective):
    """Mean squared or mean absolute error.

    Args:
        loss: ``"mse"`` or ``"mae"``.
    """

    name = "regression"
    default_monitor = ("loss", "min")

    def __init__(self, *, loss: str = "mse") -> None:
        if loss not in REGRESSION_LOSSES:
            raise ConfigError(
                f"objective.regression_loss={loss!r} is not known; choose one of "
                f"{', '.join(REGRESSION_LOSSES)}."
            )
        self.loss_name = loss

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
