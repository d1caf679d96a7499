"""Regression and reconstruction objectives: losses against torch, metrics against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch.nn import functional as F

from trainer.engine.module import TrainingModule
from trainer.errors import ConfigError
from trainer.models import Autoencoder
from trainer.tasks import ReconstructionObjective, RegressionObjective


@pytest.fixture
def regression_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    targets = torch.randn(100, generator=generator) * 3 + 1
    outputs = (targets + torch.randn(100, generator=generator)).unsqueeze(1)  # (batch, 1)
    return outputs, targets


# ---------------------------------------------------------------- regression


def test_regression_mse_loss(regression_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    outputs, targets = regression_data
    loss = RegressionObjective().loss(outputs, targets)  # targets (batch,), outputs (batch, 1)
    torch.testing.assert_close(loss, F.mse_loss(outputs.squeeze(1), targets))


def test_regression_mae_loss(regression_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    outputs, targets = regression_data
    loss = RegressionObjective(loss="mae").loss(outputs, targets)
    torch.testing.assert_close(loss, F.l1_loss(outputs.squeeze(1), targets))
    assert float(loss) != pytest.approx(float(RegressionObjective().loss(outputs, targets)))


def test_regression_loss_with_several_targets() -> None:
    generator = torch.Generator().manual_seed(4)
    outputs, targets = torch.randn(20, 3, generator=generator), torch.randn(20, 3, generator=generator)
    torch.testing.assert_close(RegressionObjective().loss(outputs, targets), F.mse_loss(outputs, targets))


def test_unknown_regression_loss_names_the_value_and_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"'huber'.*mse, mae"):
        RegressionObjective(loss="huber")


def test_regression_predict_squeezes_a_single_column(
    regression_data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    outputs, _ = regression_data
    assert RegressionObjective().predict(outputs).shape == (100,)
    assert RegressionObjective().predict(torch.zeros(5, 2)).shape == (5, 2)


def test_regression_metrics_equal_scikit_learn(regression_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    outputs, targets = regression_data
    result = RegressionObjective().metrics(outputs, targets)
    y_true, y_pred = targets.numpy(), outputs.squeeze(1).numpy()
    mse = skm.mean_squared_error(y_true, y_pred)
    assert result["mse"] == pytest.approx(mse, rel=1e-6)
    assert result["rmse"] == pytest.approx(math.sqrt(mse), rel=1e-6)
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), rel=1e-6)
    assert result["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), rel=1e-6)
    assert 0.5 < result["r2"] < 1.0


def test_regression_metrics_average_over_target_columns() -> None:
    generator = torch.Generator().manual_seed(5)
    targets = torch.randn(50, 2, generator=generator) * torch.tensor([1.0, 10.0])
    outputs = targets + torch.randn(50, 2, generator=generator)
    result = RegressionObjective().metrics(outputs, targets)
    assert result["r2"] == pytest.approx(skm.r2_score(targets.numpy(), outputs.numpy()), rel=1e-6)
    assert result["mse"] == pytest.approx(skm.mean_squared_error(targets.numpy(), outputs.numpy()), rel=1e-6)


def test_regression_r2_is_nan_on_a_single_row() -> None:
    result = RegressionObjective().metrics(torch.tensor([[1.0]]), torch.tensor([2.0]))
    assert math.isnan(result["r2"])
    assert result["mse"] == pytest.approx(1.0)


# ---------------------------------------------------------------- reconstruction


@pytest.fixture
def rows() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(6)
    inputs = torch.randn(40, 5, generator=generator)
    labels = torch.zeros(40)
    labels[::5] = 1.0  # every fifth row is an "anomaly", reconstructed worse
    noise = torch.randn(40, 5, generator=generator) * (0.1 + 2.0 * labels.unsqueeze(1))
    return inputs + noise, inputs, labels


def test_reconstruction_targets_are_the_inputs() -> None:
    inputs, labels = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    assert ReconstructionObjective().targets(inputs, labels) is inputs


def test_reconstruction_loss_is_mse_against_the_inputs(
    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    outputs, inputs, labels = rows
    objective = ReconstructionObjective()
    loss = objective.loss(outputs, objective.targets(inputs, labels))
    torch.testing.assert_close(loss, F.mse_loss(outputs, inputs))


def test_reconstruction_evaluation_outputs_are_per_row_errors(
    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    outputs, inputs, _ = rows
    errors = ReconstructionObjective().evaluation_outputs(outputs, inputs)
    assert errors.shape == (40,)
    torch.testing.assert_close(errors, F.mse_loss(outputs, inputs, reduction="none").mean(dim=1))
    torch.testing.assert_close(errors.mean(), F.mse_loss(outputs, inputs))


def test_reconstruction_metrics_rank_anomalies_with_two_classes(
    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    outputs, inputs, labels = rows
    objective = ReconstructionObjective()
    errors = objective.evaluation_outputs(outputs, inputs)
    result = objective.metrics(errors, labels)
    assert set(result) == {"mse", "roc_auc", "ap"}
    assert result["mse"] == pytest.approx(float(F.mse_loss(outputs, inputs)), rel=1e-6)
    y_true = labels.numpy().astype(int)
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, errors.numpy()))
    assert result["ap"] == pytest.approx(skm.average_precision_score(y_true, errors.numpy()))
    assert result["roc_auc"] > 0.9  # noisier rows have larger errors


def test_reconstruction_metrics_with_one_class_have_no_ranking(
    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    outputs, inputs, _ = rows
    objective = ReconstructionObjective()
    result = objective.metrics(objective.evaluation_outputs(outputs, inputs), torch.zeros(40))
    assert set(result) == {"mse"}
    assert result["mse"] == pytest.approx(float(F.mse_loss(outputs, inputs)), rel=1e-6)


def test_reconstruction_predict_returns_the_scores() -> None:
    errors = torch.tensor([0.1, 2.0, 0.3])
    torch.testing.assert_close(ReconstructionObjective().predict(errors), errors)


def test_autoencoder_module_evaluates_per_row_errors() -> None:
    torch.manual_seed(0)
    model = Autoencoder(in_features=5, hidden_sizes=(4,), code_size=2)
    module = TrainingModule(
        model, ReconstructionObjective(), optimizer_factory=lambda p: torch.optim.SGD(p, lr=0.1)
    )
    x, y = torch.randn(8, 5), torch.tensor([0, 1] * 4)
    loss, errors = module.evaluation_step((x, y))
    with torch.no_grad():
        expected = (model(x) - x).pow(2)
    assert errors.shape == (8,)
    torch.testing.assert_close(errors, expected.mean(dim=1))
    torch.testing.assert_close(loss, expected.mean())
    torch.testing.assert_close(module.training_step((x, y)), expected.mean())
    assert np.isfinite(ReconstructionObjective().metrics(errors.detach(), y)["roc_auc"])
