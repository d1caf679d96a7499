"""Multiclass classification: one logit per class, cross-entropy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from trainer.tasks.base import Objective
from trainer.tasks.metrics import (
    classification_metrics,
    confusion_matrix,
    multiclass_ranking_metrics,
)


class MulticlassObjective(Objective):
    """Cross-entropy over ``num_classes`` logits; precision/recall/F1 are macro averages.

    Args:
        label_smoothing: spread this much of the target mass over all classes.
    """

    name: ClassVar[str] = "multiclass"
    default_monitor: ClassVar[tuple[str, str]] = ("accuracy", "max")
    error_metric: ClassVar[str | None] = "accuracy"
    predicts_classes: ClassVar[bool] = True

    def __init__(self, *, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = float(label_smoothing)

    @classmethod
    def from_options(cls, options: dict[str, Any], *, train_labels: torch.Tensor) -> MulticlassObjective:
        return cls(label_smoothing=float(options.get("label_smoothing", 0.0)))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets.long(), label_smoothing=self.label_smoothing)

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs.float(), dim=-1)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        probabilities = self.predict(outputs).cpu().numpy()
        y_true = targets.cpu().numpy().astype(np.int64)
        y_pred = probabilities.argmax(axis=1)
        return {
            **classification_metrics(y_true, y_pred, average="macro"),
            **multiclass_ranking_metrics(y_true, probabilities),
        }

    def trivial_outputs(self, train_targets: torch.Tensor, *, rows: int, width: int) -> torch.Tensor:
        # Log class frequencies: the arg-max is the majority class.
        counts = torch.bincount(train_targets.long().reshape(-1), minlength=width).float()
        return (counts / counts.sum()).clamp_min(1e-9).log().expand(rows, width).clone()

    def confusion(self, outputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        """Confusion matrix of the arg-max predictions."""
        y_true = targets.cpu().numpy().astype(np.int64)
        y_pred = outputs.argmax(dim=-1).cpu().numpy()
        return confusion_matrix(y_true, y_pred, outputs.shape[-1])

    def figures(
        self, predictions: np.ndarray, labels: np.ndarray, *, classes: list[Any], directory: Path
    ) -> list[Path]:
        from trainer import plots  # matplotlib loads only when a run draws figures

        k = predictions.shape[1]
        matrix = confusion_matrix(labels.astype(np.int64), predictions.argmax(axis=1), k)
        return [plots.confusion_matrix(matrix, classes or list(range(k)), directory / "confusion_matrix.png")]

    @classmethod
    def prediction_frame(
        cls, outputs: torch.Tensor, inputs: torch.Tensor, meta: dict[str, Any]
    ) -> pd.DataFrame:
        probabilities = torch.softmax(outputs, dim=-1).numpy()
        classes = meta["classes"]
        frame = pd.DataFrame(probabilities, columns=[f"probability_{c}" for c in classes])
        frame["prediction"] = [classes[i] for i in probabilities.argmax(axis=1)]
        return frame
