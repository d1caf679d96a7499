"""Binary classification: one logit per row, BCE with logits, optional positive weight."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from trainer.tasks.base import Objective
from trainer.tasks.metrics import classification_metrics, confusion_matrix, ranking_metrics


class BinaryObjective(Objective):
    """Binary cross-entropy on a single logit.

    Args:
        pos_weight: weight of the positive class in the loss (``n_negative / n_positive``
            balances it); ``None`` for unweighted.
        threshold: probability at or above which a row is predicted positive.
    """

    name = "binary"
    default_monitor = ("ap", "max")

    def __init__(self, *, pos_weight: float | None = None, threshold: float = 0.5) -> None:
        self.pos_weight = None if pos_weight is None else float(pos_weight)
        self.threshold = float(threshold)
        self._pos_weight_tensor: torch.Tensor | None = None

    def output_size(self, num_targets: int) -> int:
        return 1

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = outputs.reshape(-1)  # (batch,)
        weight = None
        if self.pos_weight is not None:
            if self._pos_weight_tensor is None or self._pos_weight_tensor.device != logits.device:
                self._pos_weight_tensor = torch.tensor(self.pos_weight, device=logits.device)
            weight = self._pos_weight_tensor
        return F.binary_cross_entropy_with_logits(
            logits, targets.reshape(-1).to(logits.dtype), pos_weight=weight
        )

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(outputs.float().reshape(-1))

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        scores = self.predict(outputs).cpu().numpy()
        y_true = targets.reshape(-1).cpu().numpy().astype(np.int64)
        y_pred = (scores >= self.threshold).astype(np.int64)
        return {**classification_metrics(y_true, y_pred), **ranking_metrics(y_true, scores)}

    def confusion(self, outputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        """2x2 confusion matrix at the objective's threshold."""
        y_true = targets.reshape(-1).cpu().numpy().astype(np.int64)
        y_pred = (self.predict(outputs).cpu().numpy() >= self.threshold).astype(np.int64)
        return confusion_matrix(y_true, y_pred, 2)
