"""Reconstruction (autoencoders): the target is the input; the score is the per-row error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
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

    name: ClassVar[str] = "reconstruction"
    default_monitor: ClassVar[tuple[str, str]] = ("loss", "min")

    @classmethod
    def encode_labels(cls, target: pd.Series, *, column: str, where: str) -> tuple[np.ndarray, list[Any]]:
        # Labels only describe the rows (a single class is fine: normal rows only).
        classes = sorted(target.unique().tolist(), key=str)
        lookup = {value: code for code, value in enumerate(classes)}
        return target.map(lookup).to_numpy(dtype=np.float32), classes

    def output_size(self, *, num_features: int, num_classes: int) -> int:
        return num_features  # the network rebuilds its input

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

    def figures(
        self, predictions: np.ndarray, labels: np.ndarray, *, classes: list[Any], directory: Path
    ) -> list[Path]:
        from trainer import plots  # matplotlib loads only when a run draws figures

        return [
            plots.reconstruction_errors(
                predictions, labels.reshape(-1), directory / "reconstruction_error.png"
            )
        ]

    @classmethod
    def prediction_frame(
        cls, outputs: torch.Tensor, inputs: torch.Tensor, meta: dict[str, Any]
    ) -> pd.DataFrame:
        return pd.DataFrame({"reconstruction_error": (outputs - inputs).pow(2).mean(dim=-1).numpy()})
