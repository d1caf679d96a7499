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
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_recall_curve

from trainer.errors import ConfigError, DataError

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- rules
# Each rule: (validation labels, validation scores, the value of the setting it reads) -> threshold.
def _best_f1(y: np.ndarray, scores: np.ndarray, _: float) -> float:  # reads no setting
    precision, recall, thresholds = precision_recall_curve(y, scores)
    # The last (precision=1, recall=0) point has no threshold.
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def _target_recall(y: np.ndarray, scores: np.ndarray, target: float) -> float:
    _, recall, thresholds = precision_recall_curve(y, scores)
    reaching = np.flatnonzero(recall[:-1] >= target)
    return float(thresholds[reaching.max()])  # recall falls as the threshold rises


def _target_precision(y: np.ndarray, scores: np.ndarray, target: float) -> float:
    precision, _, thresholds = precision_recall_curve(y, scores)
    reaching = np.flatnonzero(precision[:-1] >= target)
    if len(reaching) == 0:
        best = int(np.argmax(precision[:-1]))
        log.warning(
            "No validation threshold reaches precision %.3g (best %.3g); using the most precise one.",
            target,
            precision[best],
        )
        return float(thresholds[best])
    return float(thresholds[reaching.min()])


def _top_k(y: np.ndarray, scores: np.ndarray, k: float) -> float:
    alerts = min(int(k), len(scores))
    return float(np.sort(scores)[::-1][alerts - 1])


def _top_fraction(y: np.ndarray, scores: np.ndarray, fraction: float) -> float:
    alerts = max(1, round(fraction * len(scores)))
    return float(np.sort(scores)[::-1][alerts - 1])


def _normal_percentile(y: np.ndarray, scores: np.ndarray, percentile: float) -> float:
    normal = scores[y == 0]
    if len(normal) == 0:
        raise DataError(
            "fraud.threshold.rule=normal_percentile needs normal rows in validation; it has none."
        )
    return float(np.percentile(normal, percentile))


@dataclass(frozen=True)
class ThresholdRule:
    """One rule of the table.

    Attributes:
        choose: ``(labels, scores, setting) -> threshold`` on validation rows.
        setting: the ``fraud.threshold.<setting>`` the rule reads (None: none).
        needs_fraud: the rule needs fraud rows in validation (it reads the precision-recall curve).
    """

    choose: Callable[[np.ndarray, np.ndarray, float], float]
    setting: str | None = None
    needs_fraud: bool = False


#: Rule name -> how it chooses, the setting it reads, whether it needs fraud in validation.
RULES: dict[str, ThresholdRule] = {
    "best_f1": ThresholdRule(_best_f1, needs_fraud=True),
    "target_recall": ThresholdRule(_target_recall, "recall", needs_fraud=True),
    "target_precision": ThresholdRule(_target_precision, "precision", needs_fraud=True),
    "top_k": ThresholdRule(_top_k, "k"),
    "top_fraction": ThresholdRule(_top_fraction, "fraction"),
    "normal_percentile": ThresholdRule(_normal_percentile, "percentile"),
}

#: Setting -> (whether a value is allowed, the allowed range in words).
SETTINGS: dict[str, tuple[Callable[[float], bool], str]] = {
    "recall": (lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
    "precision": (lambda v: 0.0 < v <= 1.0, "in (0, 1]"),
    "k": (lambda v: v >= 1, "1 or more"),
    "fraction": (lambda v: 0.0 < v < 1.0, "in (0, 1)"),
    "percentile": (lambda v: 0.0 < v < 100.0, "in (0, 100)"),
}


class ThresholdSelector:
    """Choose a score threshold on validation data.

    Args:
        rule: a name of :data:`RULES`.
        recall: target recall for ``target_recall``, in (0, 1].
        precision: target precision for ``target_precision``, in (0, 1].
        k: alerts for ``top_k``.
        fraction: share of rows alerted for ``top_fraction``, in (0, 1).
        percentile: for ``normal_percentile``, in (0, 100).

    Attributes:
        threshold_: the chosen threshold (alert when ``score >= threshold_``).
        val_precision_, val_recall_: precision and recall of that threshold on validation.

    Raises:
        ConfigError: an unknown rule, or a setting out of its range.
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
        self.rule = rule
        self.recall = recall
        self.precision = precision
        self.k = k
        self.fraction = fraction
        self.percentile = percentile
        values = self.settings()
        for key, (allowed, in_words) in SETTINGS.items():
            if not allowed(values[key]):
                raise ConfigError(f"fraud.threshold.{key}={values[key]} must be {in_words}.")

    def settings(self) -> dict[str, float]:
        """The value of each setting a rule may read, by its name in :data:`SETTINGS`."""
        return {
            "recall": self.recall,
            "precision": self.precision,
            "k": self.k,
            "fraction": self.fraction,
            "percentile": self.percentile,
        }

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
        rule = RULES[self.rule]
        if rule.needs_fraud and positives == 0:
            raise DataError(
                f"fraud.threshold.rule={self.rule} needs fraud rows in the validation split, which has none. "
                "Raise data.val_fraction, use a stratified split, or choose rule=top_fraction."
            )
        setting = math.nan if rule.setting is None else float(self.settings()[rule.setting])
        self.threshold_ = float(rule.choose(y, scores, setting))
        alerts = scores >= self.threshold_
        if alerts.all() and len(y) > 1:
            log.warning("%s", self.every_row_flagged(len(y)))
        caught = int((alerts & (y == 1)).sum())
        self.val_precision_ = caught / max(int(alerts.sum()), 1)
        self.val_recall_ = caught / max(positives, 1)
        return self

    def every_row_flagged(self, rows: int) -> str:
        """Why every one of ``rows`` validation rows is an alert, and what to change."""
        if self.rule == "top_k" and self.k >= rows:
            return (
                f"fraud.threshold.rule=top_k with k={self.k} flags every row: the validation split has "
                f"only {rows} rows. Choose fraud.threshold.k below {rows}, or rule=top_fraction."
            )
        setting = RULES[self.rule].setting
        value = f" ({setting}={self.settings()[setting]})" if setting else ""
        return (
            f"fraud.threshold.rule={self.rule}{value} flags every one of the {rows} validation rows: "
            "the threshold is at or below the lowest score, so every row is an alert."
        )

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """0/1 alerts for ``scores`` (``score >= threshold_``)."""
        return (np.asarray(scores).reshape(-1) >= self.threshold_).astype(np.int64)
