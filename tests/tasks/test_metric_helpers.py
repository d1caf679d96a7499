"""The shared metric helpers on edge cases: no positive predictions, single classes, absent labels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from trainer.tasks.metrics import (
    classification_metrics,
    confusion_matrix,
    multiclass_ranking_metrics,
    ranking_metrics,
    regression_metrics,
)


def test_no_predicted_positives_scores_zero_without_warnings() -> None:
    y_true, y_pred = np.array([0, 1, 1, 0]), np.zeros(4, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's UndefinedMetricWarning would be noise every epoch
        result = classification_metrics(y_true, y_pred)
    assert result == {"accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_ranking_metrics_equal_scikit_learn() -> None:
    y_true = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.5])
    result = ranking_metrics(y_true, scores)
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, scores))
    assert result["ap"] == pytest.approx(skm.average_precision_score(y_true, scores))


@pytest.mark.parametrize("y_true", [np.zeros(5, dtype=int), np.ones(5, dtype=int), np.array([], dtype=int)])
def test_ranking_metrics_are_nan_on_a_single_class(y_true: np.ndarray) -> None:
    result = ranking_metrics(y_true, np.linspace(0, 1, len(y_true)))
    assert set(result) == {"roc_auc", "ap"}
    assert all(math.isnan(v) for v in result.values())


def test_multiclass_ranking_metrics() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(3), size=30)
    y_true = np.arange(30) % 3
    expected = skm.roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro")
    assert multiclass_ranking_metrics(y_true, probabilities)["roc_auc"] == pytest.approx(expected)
    assert math.isnan(multiclass_ranking_metrics(y_true % 2, probabilities)["roc_auc"])


def test_regression_metrics_perfect_fit() -> None:
    y = np.array([1.0, 2.0, 4.0])
    assert regression_metrics(y, y) == {"mse": 0.0, "rmse": 0.0, "mae": 0.0, "r2": 1.0}


def test_confusion_matrix_has_a_row_and_column_per_class() -> None:
    matrix = confusion_matrix(np.array([0, 2, 2]), np.array([0, 2, 1]), 4)
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0], expected[2, 2], expected[2, 1] = 1, 1, 1
    np.testing.assert_array_equal(matrix, expected)
