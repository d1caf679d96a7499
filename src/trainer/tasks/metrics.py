"""Metric helpers shared by the objectives.

The binary metrics are computed here in NumPy: they run after every validation epoch, and
scikit-learn's input checks cost about 10 ms a call, more than an epoch of a small network. Their
values equal scikit-learn's (``tests/tasks/test_metrics_match_sklearn.py``); scikit-learn does the
rest.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, average: str = "binary"
) -> dict[str, float]:
    """Accuracy, precision, recall and F1 (``zero_division=0``: no predicted positives scores 0)."""
    if average == "binary":
        return _binary_counts_metrics(y_true, y_pred)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average=average, zero_division=0
    )
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def _binary_counts_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """scikit-learn's binary accuracy, precision, recall and F1 (positive label 1, zero_division=0)."""
    truth, predicted = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    tp = float(np.count_nonzero(truth & predicted))
    predicted_positive, actual_positive = float(predicted.sum()), float(truth.sum())
    precision = tp / predicted_positive if predicted_positive else 0.0
    recall = tp / actual_positive if actual_positive else 0.0
    both = predicted_positive + actual_positive
    return {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(truth) else math.nan,
        "precision": precision,
        "recall": recall,
        "f1": 2 * tp / both if both else 0.0,
    }


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC-AUC and average precision; NaN when a split holds a single class (undefined there)."""
    truth = np.asarray(y_true).reshape(-1) == 1
    if truth.all() or not truth.any():
        return {"roc_auc": math.nan, "ap": math.nan}
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    return {"roc_auc": _roc_auc(truth, scores), "ap": _average_precision(truth, scores)}


def _roc_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve as the Mann-Whitney statistic (tied scores count half)."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average rank within each run of tied scores (1-based), as scipy's rankdata does.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    positives = float(truth.sum())
    negatives = len(truth) - positives
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's average precision: precision at each distinct threshold, weighted by the
    recall it adds (no interpolation); tied scores form one threshold."""
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_truth = scores[order], truth[order]
    last_of_ties = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    true_positives = np.cumsum(sorted_truth)[last_of_ties]
    precision = true_positives / (last_of_ties + 1)
    recall_gained = np.diff(np.r_[0.0, true_positives]) / true_positives[-1]
    return float(np.sum(recall_gained * precision))


def multiclass_ranking_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """One-vs-rest macro ROC-AUC; NaN when a class is absent from the split."""
    labels = np.arange(probabilities.shape[1])
    if len(np.unique(y_true)) < probabilities.shape[1]:
        return {"roc_auc": math.nan}
    return {
        "roc_auc": float(
            skm.roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=labels)
        )
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (averaged over target columns)."""
    mse = float(skm.mean_squared_error(y_true, y_pred))
    r2 = float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else math.nan
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": r2,
    }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))
