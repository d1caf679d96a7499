"""The metrics computed in NumPy equal scikit-learn's, ties and degenerate splits included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from trainer.tasks.metrics import (
    classification_metrics,
    multiclass_ranking_metrics,
    ranking_metrics,
    regression_metrics,
)


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    cases = []
    for n, positive_rate, levels in [
        (7, 0.3, None),
        (45, 0.1, None),
        (300, 0.5, 5),
        (1000, 0.02, 20),
        (64, 0.5, 2),
    ]:
        for _ in range(8):
            y = (rng.random(n) < positive_rate).astype(np.int64)
            if y.min() == y.max():
                y[0] = 1 - y[0]
            scores = rng.random(n)
            if levels:  # many tied scores, as a model with few distinct outputs gives
                scores = np.round(scores * levels) / levels
            cases.append((y, scores.astype(np.float32)))
    return cases


@pytest.mark.parametrize("case", range(40))
def test_ranking_and_counts_equal_scikit_learns(case: int) -> None:
    y, scores = _cases()[case]
    ours = ranking_metrics(y, scores)
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
    assert ours["ap"] == pytest.approx(skm.average_precision_score(y, scores), abs=1e-12)
    for threshold in (0.0, 0.3, 0.5, 1.01):  # 1.01: nothing predicted positive
        y_pred = (scores >= threshold).astype(np.int64)
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y, y_pred, average="binary", zero_division=0
        )
        expected = {
            "accuracy": skm.accuracy_score(y, y_pred),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
        assert classification_metrics(y, y_pred) == pytest.approx(expected, abs=1e-12)


def test_a_split_of_one_class_has_no_ranking_metrics() -> None:
    assert all(math.isnan(v) for v in ranking_metrics(np.zeros(5), np.linspace(0, 1, 5)).values())
    assert all(math.isnan(v) for v in ranking_metrics(np.ones(5), np.linspace(0, 1, 5)).values())


@pytest.mark.parametrize("seed", range(12))
def test_macro_metrics_and_one_vs_rest_auc_equal_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes, n = int(rng.integers(3, 11)), int(rng.integers(12, 400))
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)  # every class present, as the AUC needs
    logits = rng.normal(size=(n, classes))
    if seed % 3 == 0:  # few distinct values: ties within a class's scores
        logits = np.round(logits)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predictions = probabilities.argmax(axis=1)
    if seed % 4 == 1:  # a class never predicted, another predicted but absent from the truth
        predictions[predictions == 0] = 1
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, predictions, average="macro", zero_division=0
    )
    expected = {
        "accuracy": skm.accuracy_score(y, predictions),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
    assert classification_metrics(y, predictions, average="macro") == pytest.approx(expected, abs=1e-12)
    labels = np.arange(classes)
    auc = skm.roc_auc_score(y, probabilities, multi_class="ovr", average="macro", labels=labels)
    assert multiclass_ranking_metrics(y, probabilities)["roc_auc"] == pytest.approx(auc, abs=1e-12)


def test_macro_metrics_count_a_label_only_predicted() -> None:
    y, predictions = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, predictions, average="macro", zero_division=0
    )
    ours = classification_metrics(y, predictions, average="macro")
    assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((precision, recall, f1))


@pytest.mark.parametrize("columns", [None, 1, 3])
def test_regression_metrics_equal_scikit_learns(columns: int | None) -> None:
    rng = np.random.default_rng(columns or 0)
    shape = (50,) if columns is None else (50, columns)
    y = rng.normal(size=shape)
    if columns == 3:
        y[:, 1] = 2.0  # a constant column: scikit-learn's R² rule for zero variance
    predicted = y + rng.normal(scale=0.3, size=shape)
    ours = regression_metrics(y, predicted)
    assert ours["mse"] == pytest.approx(skm.mean_squared_error(y, predicted), abs=1e-12)
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(y, predicted), abs=1e-12)
    assert ours["r2"] == pytest.approx(skm.r2_score(y, predicted), abs=1e-12)
    exact = regression_metrics(y, y)
    assert exact["r2"] == pytest.approx(skm.r2_score(y, y))
