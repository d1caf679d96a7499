"""Multiclass classification: one logit per class, cross-entropy."""

from __future__ import annotations

import numpy as np
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

    name = "multiclass"
    default_monitor = ("accuracy", "max")

    def __init__(self, *, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = float(label_smoothing)

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

    def confusion(self, outputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        """Confusion matrix of the arg-max predictions."""
        y_true = targets.cpu().numpy().astype(np.int64)
        y_pred = outputs.argmax(dim=-1).cpu().numpy()
        return confusion_matrix(y_true, y_pred, outputs.shape[-1])
