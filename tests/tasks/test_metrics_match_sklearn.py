"""The binary metrics computed in NumPy equal scikit-learn's, ties and degenerate splits included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from trainer.tasks.metrics import classification_metrics, ranking_metrics


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
