"""Binary classification: one logit per row, BCE with logits, optional positive weight."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from trainer.errors import ConfigError, DataError, UserError
from trainer.tasks.base import Objective
from trainer.tasks.metrics import classification_metrics, confusion_matrix, ranking_metrics

#: The one default decision threshold of a binary classifier: ``conf/train.yaml``'s
#: ``objective.threshold``, the config schema and a package without one all state this value
#: (tests/tasks/test_threshold_default.py fails when one drifts).
DEFAULT_THRESHOLD = 0.5


class BinaryObjective(Objective):
    """Binary cross-entropy on a single logit.

    Args:
        pos_weight: weight of the positive class in the loss (``n_negative / n_positive``
            balances it); ``None`` for unweighted.
        threshold: probability at or above which a row is predicted positive
            (:data:`DEFAULT_THRESHOLD` unless set).
    """

    name: ClassVar[str] = "binary"
    default_monitor: ClassVar[tuple[str, str]] = ("ap", "max")
    error_metric: ClassVar[str | None] = "accuracy"
    predicts_classes: ClassVar[bool] = True
    fixed_classes: ClassVar[int | None] = 2

    def __init__(self, *, pos_weight: float | None = None, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.pos_weight = None if pos_weight is None else float(pos_weight)
        self.threshold = float(threshold)
        self._pos_weight_tensor: torch.Tensor | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any], *, train_labels: torch.Tensor) -> BinaryObjective:
        return cls(
            pos_weight=_pos_weight(options.get("pos_weight"), train_labels),
            threshold=float(options.get("threshold", DEFAULT_THRESHOLD)),
        )

    @classmethod
    def encode_labels(cls, target: pd.Series, *, column: str, where: str) -> tuple[np.ndarray, list[Any]]:
        codes, classes = super().encode_labels(target, column=column, where=where)
        if len(classes) != 2:
            raise DataError(
                f"data.task=binary but data.target={column!r} has {len(classes)} classes; "
                "use data.task=multiclass or data.task=auto."
            )
        return codes.astype(np.float32), classes  # BCE compares float targets

    def output_size(self, *, num_features: int, num_classes: int) -> int:
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

    def figures(
        self, predictions: np.ndarray, labels: np.ndarray, *, classes: list[Any], directory: Path
    ) -> list[Path]:
        from trainer import plots  # matplotlib loads only when a run draws figures

        y_true = labels.reshape(-1).astype(np.int64)
        y_pred = (predictions >= self.threshold).astype(np.int64)
        matrix = confusion_matrix(y_true, y_pred, 2)
        return [
            plots.confusion_matrix(matrix, classes, directory / "confusion_matrix.png"),
            *plots.roc_and_pr(y_true, predictions, directory, threshold=self.threshold),
        ]

    def trivial_outputs(self, train_targets: torch.Tensor, *, rows: int, width: int) -> torch.Tensor:
        # The logit of the positive rate: its probability lies on the majority class's side of
        # one half, so it predicts the majority class at the default threshold.
        rate = float(train_targets.float().mean().clamp(1e-6, 1 - 1e-6))
        return torch.full((rows, 1), math.log(rate / (1 - rate)))

    def packaging_meta(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    @classmethod
    def prediction_frame(
        cls, outputs: torch.Tensor, inputs: torch.Tensor, meta: dict[str, Any]
    ) -> pd.DataFrame:
        probability = torch.sigmoid(outputs.reshape(-1)).numpy()
        classes = meta["classes"]
        labels = np.where(probability >= meta.get("threshold", DEFAULT_THRESHOLD), classes[1], classes[0])
        return pd.DataFrame({"probability": probability, "prediction": labels})


def _pos_weight(value: Any, train_labels: torch.Tensor) -> float | None:
    """``objective.pos_weight``: null, a number, or ``balanced`` (negatives per positive in train)."""
    if value is None:
        return None
    if value == "balanced":
        positives = float(train_labels.sum())
        if positives == 0:
            raise UserError("objective.pos_weight=balanced but the training split has no positive rows.")
        return (len(train_labels) - positives) / positives
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"objective.pos_weight={value!r}; use null, a number, or 'balanced'.") from None
