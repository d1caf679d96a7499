"""Test metrics of one approach: ranking quality, alerts at the chosen threshold, and accuracy
only beside the accuracy of never flagging fraud (which is high and means nothing)."""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def precision_at_k(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of fraud among the ``k`` highest scores (ties broken by row order)."""
    k = min(int(k), len(scores))
    if k <= 0:
        return math.nan
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(y_true)[top].mean())


def score_metrics(y_true: np.ndarray, scores: np.ndarray, *, threshold: float, k: int) -> dict[str, float]:
    """Metrics of ``scores`` on the test split at ``threshold`` (alert when ``score >= threshold``).

    Args:
        y_true: 0/1 labels.
        scores: higher means more suspicious (probability, error, anomaly score).
        threshold: chosen on validation rows.
        k: alert budget for precision@k.

    Returns:
        ``ap``, ``roc_auc`` (NaN with one class), ``precision``, ``recall``, ``f1``, the confusion
        counts ``tn``, ``fp``, ``fn``, ``tp``, ``alerts``, ``precision_at_k``, ``accuracy`` and
        ``no_skill_accuracy`` (share of normal rows: what "never fraud" scores).
    """
    y = np.asarray(y_true).reshape(-1).astype(np.int64)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pred = (s >= threshold).astype(np.int64)
    two_classes = len(np.unique(y)) == 2
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "ap": float(skm.average_precision_score(y, s)) if two_classes else math.nan,
        "roc_auc": float(skm.roc_auc_score(y, s)) if two_classes else math.nan,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "tn": float(tn),
        "fp": float(fp),
        "fn": float(fn),
        "tp": float(tp),
        "alerts": float(pred.sum()),
        "precision_at_k": precision_at_k(y, s, k),
        "accuracy": float((pred == y).mean()),
        "no_skill_accuracy": float((y == 0).mean()),
    }


def validation_log_loss(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean log loss of fraud probabilities (clipped away from 0 and 1, so one sure miss is finite)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(y_true, dtype=np.float64)
    if len(y) == 0:
        return math.nan
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
