"""Decision thresholds chosen on validation rows by one rule; the test split is never looked at.

A score at or above the threshold is an alert. Rules:

- ``best_f1``: the threshold with the highest F1 on validation.
- ``target_recall``: the highest threshold that still catches ``recall`` of validation fraud
  (the most precise way to reach that recall).
- ``target_precision``: the lowest threshold whose validation precision reaches ``precision``
  (the most fraud caught at that precision); the most precise one when none reaches it.
- ``top_k`` / ``top_fraction``: an alert budget, the k (or that fraction of) highest
  validation scores; on another split of a different size the same threshold gives
  proportionally as many alerts.
- ``normal_percentile``: the ``percentile`` of normal validation rows' scores (for an
  autoencoder: rows reconstructed worse than 99% of normal rows are alerts).
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import precision_recall_curve

from trainer.errors import ConfigError, DataError

log = logging.getLogger(__name__)

RULES = ("best_f1", "target_recall", "target_precision", "top_k", "top_fraction", "normal_percentile")


class ThresholdSelector:
    """Choose a score threshold on validation data.

    Args:
        rule: one of :data:`RULES`.
        recall: target recall for ``target_recall``, in (0, 1].
        precision: target precision for ``target_precision``, in (0, 1].
        k: alerts for ``top_k``.
        fraction: share of rows alerted for ``top_fraction``, in (0, 1).
        percentile: for ``normal_percentile``, in (0, 100).

    Attributes:
        threshold_: the chosen threshold (alert when ``score >= threshold_``).
        val_precision_, val_recall_: precision and recall of that threshold on validation.
    """

    def __init__(
        self,
        *,
        rule: str = "best_f1",
        recall: float = 0.8,
        precision: float = 0.5,
        k: int = 100,
        fraction: float = 0.05,
        percentile: float = 99.0,
    ) -> None:
        if rule not in RULES:
            raise ConfigError(
                f"fraud.threshold.rule={rule!r} is not known; choose one of {', '.join(RULES)}."
            )
        checks = {
            "recall": (recall, 0.0 < recall <= 1.0, "in (0, 1]"),
            "precision": (precision, 0.0 < precision <= 1.0, "in (0, 1]"),
            "k": (k, k >= 1, "1 or more"),
            "fraction": (fraction, 0.0 < fraction < 1.0, "in (0, 1)"),
            "percentile": (percentile, 0.0 < percentile < 100.0, "in (0, 100)"),
        }
        for key, (value, ok, allowed) in checks.items():
            if not ok:
                raise ConfigError(f"fraud.threshold.{key}={value} must be {allowed}.")
        self.rule = rule
        self.recall = recall
        self.precision = precision
        self.k = k
        self.fraction = fraction
        self.percentile = percentile

    def fit(self, y_val: np.ndarray, scores_val: np.ndarray) -> ThresholdSelector:
        """Choose ``threshold_`` from validation labels and scores.

        Raises:
            DataError: no fraud (or no normal) rows in validation, where a rule needs them.
        """
        y = np.asarray(y_val).reshape(-1).astype(np.int64)
        scores = np.asarray(scores_val, dtype=np.float64).reshape(-1)
        if len(y) != len(scores) or len(y) == 0:
            raise DataError(f"Validation has {len(y)} labels and {len(scores)} scores; need the same, > 0.")
        positives = int(y.sum())
        if self.rule in ("best_f1", "target_recall", "target_precision") and positives == 0:
            raise DataError(
                f"fraud.threshold.rule={self.rule} needs fraud rows in the validation split, which has none. "
                "Raise data.val_fraction, use a stratified split, or choose rule=top_fraction."
            )
        self.threshold_ = float(getattr(self, f"_{self.rule}")(y, scores))
        alerts = scores >= self.threshold_
        caught = int((alerts & (y == 1)).sum())
        self.val_precision_ = caught / max(int(alerts.sum()), 1)
        self.val_recall_ = caught / max(positives, 1)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """0/1 alerts for ``scores`` (``score >= threshold_``)."""
        return (np.asarray(scores).reshape(-1) >= self.threshold_).astype(np.int64)

    # ------------------------------------------------------------------ rules
    def _best_f1(self, y: np.ndarray, scores: np.ndarray) -> float:
        precision, recall, thresholds = precision_recall_curve(y, scores)
        # The last (precision=1, recall=0) point has no threshold.
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        return float(thresholds[int(np.argmax(f1))])

    def _target_recall(self, y: np.ndarray, scores: np.ndarray) -> float:
        _, recall, thresholds = precision_recall_curve(y, scores)
        reaching = np.flatnonzero(recall[:-1] >= self.recall)
        return float(thresholds[reaching.max()])  # recall falls as the threshold rises

    def _target_precision(self, y: np.ndarray, scores: np.ndarray) -> float:
        precision, _, thresholds = precision_recall_curve(y, scores)
        reaching = np.flatnonzero(precision[:-1] >= self.precision)
        if len(reaching) == 0:
            best = int(np.argmax(precision[:-1]))
            log.warning(
                "No validation threshold reaches precision %.3g (best %.3g); using the most precise one.",
                self.precision,
                precision[best],
            )
            return float(thresholds[best])
        return float(thresholds[reaching.min()])

    def _top_k(self, y: np.ndarray, scores: np.ndarray) -> float:
        k = min(self.k, len(scores))
        return float(np.sort(scores)[::-1][k - 1])

    def _top_fraction(self, y: np.ndarray, scores: np.ndarray) -> float:
        k = max(1, round(self.fraction * len(scores)))
        return float(np.sort(scores)[::-1][k - 1])

    def _normal_percentile(self, y: np.ndarray, scores: np.ndarray) -> float:
        normal = scores[y == 0]
        if len(normal) == 0:
            raise DataError(
                "fraud.threshold.rule=normal_percentile needs normal rows in validation; it has none."
            )
        return float(np.percentile(normal, self.percentile))
