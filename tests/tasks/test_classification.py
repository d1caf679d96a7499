"""Binary and multiclass objectives: losses against torch, metrics against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch.nn import functional as F

from trainer.tasks import BinaryObjective, MulticlassObjective


@pytest.fixture
def binary_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(200, generator=generator) < 0.3).long()
    # Informative but imperfect logits, shaped (batch, 1) as the network returns them.
    logits = (labels.float() * 1.5 + torch.randn(200, generator=generator)).unsqueeze(1) - 0.8
    return logits, labels


@pytest.fixture
def multiclass_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 4, (300,), generator=generator)
    logits = torch.randn(300, 4, generator=generator) + 1.2 * F.one_hot(labels, 4)
    return logits, labels


# ---------------------------------------------------------------- binary


def test_binary_needs_one_output() -> None:
    assert BinaryObjective().output_size(num_features=5, num_classes=2) == 1
    assert BinaryObjective().default_monitor == ("ap", "max")


def test_binary_loss_is_bce_with_logits(binary_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = binary_data
    loss = BinaryObjective().loss(logits, labels)
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits.squeeze(1), labels.float()))


def test_binary_loss_with_pos_weight(binary_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = binary_data
    weighted = BinaryObjective(pos_weight=2.5).loss(logits, labels)
    reference = F.binary_cross_entropy_with_logits(
        logits.squeeze(1), labels.float(), pos_weight=torch.tensor(2.5)
    )
    torch.testing.assert_close(weighted, reference)
    assert float(weighted) > float(BinaryObjective().loss(logits, labels))  # positives count more


def test_binary_loss_keeps_the_logits_dtype() -> None:
    logits = torch.tensor([[0.3], [-1.2], [2.0]], dtype=torch.float64)
    loss = BinaryObjective(pos_weight=3.0).loss(logits, torch.tensor([1, 0, 1]))
    assert loss.dtype == torch.float64
    reference = F.binary_cross_entropy_with_logits(
        logits.squeeze(1), torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64), pos_weight=torch.tensor(3.0)
    )
    torch.testing.assert_close(loss, reference)


def test_binary_loss_has_gradient_towards_the_label() -> None:
    logits = torch.zeros(2, 1, requires_grad=True)
    BinaryObjective().loss(logits, torch.tensor([1, 0])).backward()
    assert logits.grad is not None
    assert logits.grad[0, 0] < 0 < logits.grad[1, 0]


def test_binary_predict_is_the_sigmoid(binary_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, _ = binary_data
    probabilities = BinaryObjective().predict(logits)
    assert probabilities.shape == (200,)
    torch.testing.assert_close(probabilities, torch.sigmoid(logits.squeeze(1)))


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_metrics_equal_scikit_learn(
    binary_data: tuple[torch.Tensor, torch.Tensor], threshold: float
) -> None:
    logits, labels = binary_data
    result = BinaryObjective(threshold=threshold).metrics(logits, labels)
    scores = torch.sigmoid(logits.squeeze(1)).numpy()
    y_true = labels.numpy()
    y_pred = (scores >= threshold).astype(int)
    expected = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred),
        "recall": skm.recall_score(y_true, y_pred),
        "f1": skm.f1_score(y_true, y_pred),
        "roc_auc": skm.roc_auc_score(y_true, scores),
        "ap": skm.average_precision_score(y_true, scores),
    }
    assert set(result) == set(expected)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-6), key
    assert all(isinstance(v, float) for v in result.values())
    assert 0.5 < result["roc_auc"] < 1.0  # informative, imperfect: the data is not degenerate


def test_binary_threshold_moves_precision_and_recall(binary_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = binary_data
    low, high = (
        BinaryObjective(threshold=0.2).metrics(logits, labels),
        BinaryObjective(threshold=0.8).metrics(logits, labels),
    )
    assert low["recall"] > high["recall"]
    assert low["roc_auc"] == high["roc_auc"]  # ranking metrics ignore the threshold


def test_binary_metrics_accept_float_labels(binary_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = binary_data
    as_int = BinaryObjective().metrics(logits, labels)
    as_float = BinaryObjective().metrics(logits, labels.float().unsqueeze(1))
    assert as_float == pytest.approx(as_int)


@pytest.mark.parametrize("only", [0, 1])
def test_binary_single_class_split_gives_nan_ranking_metrics(only: int) -> None:
    logits = torch.linspace(-2, 2, 10).unsqueeze(1)
    labels = torch.full((10,), only)
    result = BinaryObjective().metrics(logits, labels)
    assert math.isnan(result["roc_auc"]) and math.isnan(result["ap"])
    assert result["accuracy"] == pytest.approx(0.5)  # threshold metrics are still defined


def test_binary_confusion_matrix(binary_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = binary_data
    matrix = BinaryObjective(threshold=0.4).confusion(logits, labels)
    y_pred = (torch.sigmoid(logits.squeeze(1)) >= 0.4).long().numpy()
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(labels.numpy(), y_pred))
    assert matrix.shape == (2, 2) and matrix.sum() == 200
    assert matrix[1].sum() == int(labels.sum())  # rows are the true classes


def test_binary_confusion_is_2x2_even_with_one_class() -> None:
    matrix = BinaryObjective().confusion(torch.full((4, 1), -3.0), torch.zeros(4))
    np.testing.assert_array_equal(matrix, [[4, 0], [0, 0]])


# ---------------------------------------------------------------- multiclass


def test_multiclass_output_size_and_monitor() -> None:
    assert MulticlassObjective().output_size(num_features=5, num_classes=7) == 7
    assert MulticlassObjective().default_monitor == ("accuracy", "max")


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_multiclass_loss_is_cross_entropy(
    multiclass_data: tuple[torch.Tensor, torch.Tensor], smoothing: float
) -> None:
    logits, labels = multiclass_data
    loss = MulticlassObjective(label_smoothing=smoothing).loss(logits, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels, label_smoothing=smoothing))


def test_label_smoothing_changes_the_loss(multiclass_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = multiclass_data
    plain = MulticlassObjective().loss(logits * 10, labels)
    smoothed = MulticlassObjective(label_smoothing=0.2).loss(logits * 10, labels)
    assert float(smoothed) != pytest.approx(float(plain), rel=1e-3)


def test_multiclass_loss_accepts_float_labels(multiclass_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = multiclass_data
    torch.testing.assert_close(
        MulticlassObjective().loss(logits, labels.float()), F.cross_entropy(logits, labels)
    )


def test_multiclass_predict_is_the_softmax(multiclass_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, _ = multiclass_data
    probabilities = MulticlassObjective().predict(logits)
    torch.testing.assert_close(probabilities, torch.softmax(logits, dim=1))
    torch.testing.assert_close(probabilities.sum(1), torch.ones(300))


def test_multiclass_metrics_equal_scikit_learn_macro(
    multiclass_data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    logits, labels = multiclass_data
    result = MulticlassObjective().metrics(logits, labels)
    probabilities = torch.softmax(logits, dim=1).numpy()
    y_true, y_pred = labels.numpy(), probabilities.argmax(1)
    expected = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, average="macro"),
        "recall": skm.recall_score(y_true, y_pred, average="macro"),
        "f1": skm.f1_score(y_true, y_pred, average="macro"),
        "roc_auc": skm.roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro"),
    }
    assert set(result) == set(expected)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-6), key
    # Macro, not micro: on imbalanced predictions the two differ.
    assert result["precision"] != pytest.approx(skm.precision_score(y_true, y_pred, average="micro"))


def test_multiclass_missing_class_gives_nan_roc_auc() -> None:
    logits = torch.randn(12, 3, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 1] * 6)  # class 2 never occurs in this split
    result = MulticlassObjective().metrics(logits, labels)
    assert math.isnan(result["roc_auc"])
    y_pred = logits.argmax(1).numpy()
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(labels.numpy(), y_pred))
    assert result["f1"] == pytest.approx(
        skm.f1_score(labels.numpy(), y_pred, average="macro", zero_division=0)
    )


def test_multiclass_confusion_matrix(multiclass_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, labels = multiclass_data
    matrix = MulticlassObjective().confusion(logits, labels)
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(labels.numpy(), logits.argmax(1).numpy()))
    assert matrix.shape == (4, 4) and matrix.sum() == 300


def test_multiclass_confusion_keeps_classes_never_seen() -> None:
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [5.0, 0.0, 0.0]])
    matrix = MulticlassObjective().confusion(logits, torch.tensor([0, 1, 1]))
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [1, 1, 0], [0, 0, 0]])
