"""The bias/variance verdict: each verdict on constructed numbers, and the report after a fit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from trainer.diagnostics.bias_variance import (
    BOTH,
    FINE,
    HIGH_BIAS,
    HIGH_VARIANCE,
    NEXT_STEP,
    UNDETERMINED,
    bias_variance_report,
    bias_variance_verdict,
)
from trainer.engine import Trainer
from trainer.models import MLP
from trainer.tasks import BinaryObjective, MulticlassObjective, ReconstructionObjective, RegressionObjective

from .conftest import TensorDataModule, classes_problem, linear_problem, make_module


@pytest.mark.parametrize(
    ("train_error", "val_error", "reference", "expected"),
    [
        (0.02, 0.04, 0.5, FINE),  # 4% of the reference on train, gap 4%
        (0.35, 0.37, 0.5, HIGH_BIAS),  # train error 70% of the trivial predictor's
        (0.01, 0.15, 0.5, HIGH_VARIANCE),  # gap 28% of the reference
        (0.30, 0.45, 0.5, BOTH),
        (0.10, 0.12, 0.0, UNDETERMINED),  # nothing to compare with
        (math.nan, 0.1, 0.5, UNDETERMINED),
    ],
)
def test_each_verdict_on_constructed_errors(
    train_error: float, val_error: float, reference: float, expected: str
) -> None:
    verdict = bias_variance_verdict(train_error=train_error, val_error=val_error, reference_error=reference)
    assert verdict["verdict"] == expected
    assert verdict["next_step"] == NEXT_STEP[expected]
    assert verdict["tag"] == expected.replace(" ", "_")


def test_the_recipe_names_the_standard_next_steps() -> None:
    assert "bigger network" in NEXT_STEP[HIGH_BIAS] and "train longer" in NEXT_STEP[HIGH_BIAS]
    assert "more training data" in NEXT_STEP[HIGH_VARIANCE] and "regularisation" in NEXT_STEP[HIGH_VARIANCE]


def test_thresholds_are_options() -> None:
    kwargs = {"train_error": 0.1, "val_error": 0.2, "reference_error": 0.5}
    assert bias_variance_verdict(**kwargs)["verdict"] == HIGH_VARIANCE  # gap 0.2 > 0.1
    assert bias_variance_verdict(**kwargs, variance_threshold=0.25)["verdict"] == FINE
    assert (
        bias_variance_verdict(**kwargs, bias_threshold=0.1, variance_threshold=0.25)["verdict"] == HIGH_BIAS
    )


def _fit(module: nn.Module, data: TensorDataModule, epochs: int) -> None:
    Trainer(accelerator="cpu", max_epochs=epochs, callbacks=[]).fit(module, data)


def test_report_after_a_classification_fit_uses_the_majority_class() -> None:
    torch.manual_seed(0)
    data = TensorDataModule(classes_problem(300, seed=0), classes_problem(150, seed=1))
    module = make_module(MLP(in_features=8, out_features=3, hidden_sizes=[16]), MulticlassObjective(), lr=0.2)
    _fit(module, data, epochs=8)
    verdict, text = bias_variance_report(module, data)
    labels = data.tensors("val")[1]
    majority = torch.bincount(data.tensors("train")[1]).argmax()
    assert verdict["trivial_error"] == pytest.approx(float((labels != majority).float().mean()))
    assert verdict["reference"] == "best trivial predictor"
    assert verdict["error_metric"] == "1 - accuracy"
    assert verdict["verdict"] == FINE and verdict["train_error"] < 0.1
    assert text.startswith("Bias/variance: fine") and "next step:" in text
    assert module.training  # the mode is put back


def test_report_flags_a_linear_model_on_a_nonlinear_target_as_high_bias() -> None:
    torch.manual_seed(0)
    x = torch.randn(400, 2)
    y = (x[:, 0] * x[:, 1] > 0).float()  # XOR-like: no line separates it
    data = TensorDataModule((x[:300], y[:300]), (x[300:], y[300:]))
    module = make_module(nn.Linear(2, 1), BinaryObjective(), lr=0.1)
    _fit(module, data, epochs=5)
    verdict, _ = bias_variance_report(module, data)
    assert verdict["verdict"] in (HIGH_BIAS, BOTH)


def test_report_for_regression_scales_by_the_mean_predictor_and_takes_a_given_reference() -> None:
    torch.manual_seed(0)
    data = TensorDataModule(linear_problem(300, seed=0), linear_problem(100, seed=1))
    module = make_module(nn.Linear(5, 1), RegressionObjective(), lr=0.05)
    _fit(module, data, epochs=10)
    verdict, _ = bias_variance_report(module, data)
    y_train, y_val = data.tensors("train")[1], data.tensors("val")[1]
    assert verdict["trivial_error"] == pytest.approx(float((y_val - y_train.mean()).pow(2).mean()), rel=1e-4)
    assert verdict["verdict"] == FINE
    given, text = bias_variance_report(module, data, reference_error=0.001)
    assert given["reference"] == "configured" and given["verdict"] in (HIGH_BIAS, BOTH)
    assert "configured" in text


def test_report_has_no_verdict_for_reconstruction() -> None:
    data = TensorDataModule((torch.randn(20, 4), torch.zeros(20)), (torch.randn(10, 4), torch.zeros(10)))
    module = make_module(nn.Linear(4, 4), ReconstructionObjective())
    verdict, text = bias_variance_report(module, data)
    assert verdict == {} and "no verdict" in text


def test_a_validation_loss_still_falling_steeply_is_noticed() -> None:
    from trainer.diagnostics.bias_variance import still_improving

    falling = [{"val/loss": v} for v in (0.9, 0.7, 0.55, 0.45)]
    assert still_improving(falling)
    flat = [{"val/loss": v} for v in (0.9, 0.5, 0.499, 0.4985)]  # 0.1% per epoch: done
    assert not still_improving(flat)
    turned = [{"val/loss": v} for v in (0.9, 0.5, 0.4, 0.45)]  # the last epoch is not the lowest
    assert not still_improving(turned)
    assert not still_improving([{"val/loss": 0.5}])


def test_a_model_stopped_while_still_improving_is_not_judged_and_the_ratios_say_their_side() -> None:
    torch.manual_seed(0)
    data = TensorDataModule(classes_problem(300, seed=0), classes_problem(150, seed=1))
    module = make_module(MLP(in_features=8, out_features=3, hidden_sizes=[16]), MulticlassObjective(), lr=0.2)
    _fit(module, data, epochs=8)
    verdict, text = bias_variance_report(module, data, improving=True)
    assert verdict["verdict"] == "still improving" and verdict["measured"] == FINE
    assert "trainer.max_epochs" in verdict["next_step"]
    assert text.startswith("Bias/variance: still improving (the errors alone say: fine)")
    # A value is never printed beside a limit as if flagged: each ratio says which side it is on.
    assert f"bias = train / reference = {verdict['bias']:.3g}, ok (at most 0.5)" in text
    assert "variance = (validation - train) / reference = " in text and "(high above" not in text


def test_a_run_cut_off_by_max_epochs_while_learning_says_so(tmp_path: Path) -> None:
    from trainer.config import compose_config
    from trainer.train import train

    overrides = [
        "trainer.max_epochs=3",
        "optimizer.lr=0.0005",  # slow: the validation loss is still falling steeply at epoch 3
        "trainer.accelerator=cpu",
        "logger=none",
        "callbacks.progress=null",
        f"paths.runs_dir={tmp_path}",
    ]
    result = train(compose_config(overrides))
    losses = [row["val/loss"] for row in result.history]
    assert losses == sorted(losses, reverse=True) and (losses[-2] - losses[-1]) / losses[-2] > 0.01
    text = (result.run_dir / "bias_variance.txt").read_text()
    assert text.startswith("Bias/variance: still improving"), text
