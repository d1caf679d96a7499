"""Reconstruction (autoencoders): the target is the input; the score is the per-row error."""

from __future__ import annotations

import math

import numpy as np
import torch

from trainer.tasks.base import Objective
from trainer.tasks.metrics import ranking_metrics


class ReconstructionObjective(Objective):
    """Mean squared reconstruction error; evaluation keeps each row's error as its score.

    The batch's labels (for example fraud / normal) are not the target: the network
    reconstructs its input. When the labels of a split hold two classes, the metrics also
    say how well the reconstruction error ranks the positive rows (ROC-AUC, AP), which is
    how an autoencoder trained on normal rows flags anomalies.
    """

    name = "reconstruction"
    default_monitor = ("loss", "min")

    def targets(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return inputs

    def evaluation_outputs(self, outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        # (batch, features) -> (batch,): the mean squared error of each row.
        return (outputs.float() - inputs.float()).pow(2).mean(dim=-1)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (outputs - targets.to(outputs.dtype)).pow(2).mean()

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float()

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        errors = outputs.float().cpu().numpy()
        labels = targets.reshape(-1).cpu().numpy()
        result = {"mse": float(errors.mean()) if len(errors) else math.nan}
        if len(np.unique(labels)) == 2:
            result.update(ranking_metrics(labels.astype(np.int64), errors))
        return result
