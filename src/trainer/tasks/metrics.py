"""Metric helpers shared by the objectives (scikit-learn does the arithmetic)."""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, average: str = "binary"
) -> dict[str, float]:
    """Accuracy, precision, recall and F1 (``zero_division=0``: no predicted positives scores 0)."""
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average=average, zero_division=0
    )
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC-AUC and average precision; NaN when a split holds a single class (undefined there)."""
    if len(np.unique(y_true)) < 2:
        return {"roc_auc": math.nan, "ap": math.nan}
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, scores)),
        "ap": float(skm.average_precision_score(y_true, scores)),
    }


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
