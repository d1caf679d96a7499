"""Metric helpers shared by the objectives.

The metrics are computed here in NumPy: they run after every validation epoch, and
scikit-learn's input checks cost about 10 ms a call (a multiclass ROC-AUC 20 ms), more than an
epoch of a small network. Their values equal scikit-learn's
(``tests/tasks/test_metrics_match_sklearn.py``).
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
    if average == "macro":
        return _macro_counts_metrics(np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1))
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average=average, zero_division=0
    )
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def _macro_counts_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """scikit-learn's macro precision, recall and F1 (``zero_division=0``): the mean over every
    label that occurs in the truth or the predictions, of that label's one-vs-rest score."""
    if len(y_true) == 0:
        return {"accuracy": math.nan, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    labels, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    truth, predicted = codes[: len(y_true)], codes[len(y_true) :]
    hits = truth[truth == predicted]
    tp = np.bincount(hits, minlength=len(labels)).astype(np.float64)
    actual = np.bincount(truth, minlength=len(labels)).astype(np.float64)
    guessed = np.bincount(predicted, minlength=len(labels)).astype(np.float64)
    both = actual + guessed
    return {
        "accuracy": float(len(hits) / len(y_true)),
        "precision": float(np.mean(np.divide(tp, guessed, out=np.zeros_like(tp), where=guessed > 0))),
        "recall": float(np.mean(np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0))),
        "f1": float(np.mean(np.divide(2 * tp, both, out=np.zeros_like(tp), where=both > 0))),
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
    y_true = np.asarray(y_true).reshape(-1)
    if len(np.unique(y_true)) < probabilities.shape[1]:
        return {"roc_auc": math.nan}
    scores = np.asarray(probabilities, dtype=np.float64)
    areas = [_roc_auc(y_true == label, scores[:, label]) for label in range(scores.shape[1])]
    return {"roc_auc": float(np.mean(areas))}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (averaged over target columns)."""
    truth = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(y_pred, dtype=np.float64).reshape(truth.shape)
    if truth.ndim == 1:
        truth, predicted = truth[:, None], predicted[:, None]
    errors = truth - predicted
    mse_per_column = np.mean(errors**2, axis=0)
    mse = float(np.mean(mse_per_column))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(np.mean(np.abs(errors))),
        "r2": _r2(truth, mse_per_column) if len(truth) > 1 else math.nan,
    }


def _r2(truth: np.ndarray, mse_per_column: np.ndarray) -> float:
    """scikit-learn's R² averaged over columns: a constant column scores 1 when predicted
    exactly and 0 otherwise (its variance is zero, so the ratio is undefined)."""
    variance = np.mean((truth - truth.mean(axis=0)) ** 2, axis=0)
    scores = np.ones_like(variance)
    varying = variance > 0
    scores[varying] = 1 - mse_per_column[varying] / variance[varying]
    scores[~varying & (mse_per_column > 0)] = 0.0
    return float(np.mean(scores))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))
