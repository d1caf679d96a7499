"""Test metrics at a threshold, precision@k, and accuracy beside the no-skill accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.fraud.metrics import precision_at_k, score_metrics


def test_metrics_at_a_threshold_and_the_confusion_counts() -> None:
    y = np.array([0, 0, 0, 0, 0, 0, 1, 0, 1, 1])
    s = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    m = score_metrics(y, s, threshold=0.65, k=2)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["precision_at_k"] == 1.0  # the two highest scores are fraud
    assert m["accuracy"] == pytest.approx(0.8) and m["no_skill_accuracy"] == pytest.approx(0.7)
    assert 0 < m["ap"] <= 1 and 0.5 < m["roc_auc"] <= 1


def test_never_fraud_scores_the_no_skill_accuracy_and_no_recall() -> None:
    y = np.array([0] * 94 + [1] * 6)
    m = score_metrics(y, np.zeros(100), threshold=math.inf, k=10)
    assert m["accuracy"] == m["no_skill_accuracy"] == pytest.approx(0.94)
    assert m["recall"] == 0 and m["alerts"] == 0
    assert m["ap"] == pytest.approx(0.06) and m["roc_auc"] == 0.5


def test_one_class_test_split_gives_nan_ranking_metrics() -> None:
    m = score_metrics(np.zeros(4), np.arange(4.0), threshold=2, k=2)
    assert math.isnan(m["ap"]) and math.isnan(m["roc_auc"])


def test_precision_at_k_caps_k_at_the_rows() -> None:
    assert precision_at_k(np.array([1, 0, 0]), np.array([0.9, 0.1, 0.2]), 10) == pytest.approx(1 / 3)


def test_the_terminal_table_ranks_by_test_ap_with_units_and_marks_the_winner() -> None:
    import pandas as pd

    from trainer.fraud.report import terminal_rows

    frame = pd.DataFrame(
        [
            {"approach": "plain", "ap": 0.41, "threshold": 0.5, "tp": 3, "family": "network"},
            {"approach": "autoencoder", "ap": 0.73219, "threshold": 1.8345, "tp": 7, "family": "anomaly"},
            {
                "approach": "no_skill",
                "ap": float("nan"),
                "threshold": float("nan"),
                "tp": 0,
                "family": "baseline",
            },
            {"approach": "hgb", "ap": 0.6, "threshold": 0.25, "tp": 5, "family": "reference"},
        ]
    )
    rows = terminal_rows(frame, ["approach", "ap", "threshold", "tp"])
    assert rows == [
        ["* autoencoder", "0.732", "1.83 anomaly score", "7"],
        ["  hgb", "0.600", "0.25 probability", "5"],
        ["  plain", "0.410", "0.5 probability", "3"],
        ["  no_skill", "n/a", "n/a", "0"],
    ]
