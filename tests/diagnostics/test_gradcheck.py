"""``trainer gradcheck``: a planted wrong backward pass is flagged, correct networks pass."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from trainer.commands.diagnose import gradcheck_command
from trainer.diagnostics.gradcheck import check_module, format_report, reading, relative_difference
from trainer.errors import ConfigError
from trainer.models import MLP
from trainer.tasks import BinaryObjective, MulticlassObjective

from .conftest import classes_problem, linear_problem, make_module


class _ScaledSquare(torch.autograd.Function):
    """``y = x**2`` whose backward returns 2.2x instead of 2x: the planted bug."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * 2.2 * x  # wrong: the derivative of x**2 is 2x


class BuggyNet(nn.Module):
    def __init__(self, in_features: int = 5) -> None:
        super().__init__()
        self.first = nn.Linear(in_features, 8)
        self.last = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(_ScaledSquare.apply(self.first(x)))


def test_planted_wrong_backward_is_flagged_as_a_bug() -> None:
    torch.manual_seed(0)
    x, y = linear_problem(16)
    result = check_module(make_module(BuggyNet()), (x, y), max_coords=20)
    by_name = {t.name: t for t in result.tensors}
    # Gradients below the bad layer are wrong; those above it (last.*) are not.
    assert by_name["first.weight"].reading == "bug"
    assert by_name["first.bias"].reading == "bug"
    assert by_name["last.weight"].reading == "great"
    assert result.bug and result.reading == "bug"
    assert "bug" in format_report(result)


@pytest.mark.parametrize("batch_norm", ["none", "before"])
def test_a_correct_mlp_with_dropout_and_batch_norm_reads_great(batch_norm: str) -> None:
    torch.manual_seed(0)
    model = MLP(in_features=8, out_features=3, hidden_sizes=[12, 6], dropout=0.5, batch_norm=batch_norm)
    module = make_module(model, MulticlassObjective())
    module.l2 = 0.01  # the penalty is part of the training loss, so it is checked too
    result = check_module(module, classes_problem(16), max_coords=20)
    assert not result.bug
    assert result.overall < 1e-7, format_report(result)
    assert all(t.reading == "great" for t in result.tensors), format_report(result)
    assert result.sampled  # 8*12 weights > 20 coordinates


def test_the_checked_module_is_left_as_it_was() -> None:
    torch.manual_seed(0)
    model = MLP(in_features=4, out_features=1, hidden_sizes=[6], dropout=0.3, batch_norm="before")
    module = make_module(model, BinaryObjective(pos_weight=2.0))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    x = torch.randn(8, 4)
    check_module(module, (x, (x[:, 0] > 0).float()), max_coords=0)
    after = module.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())
    assert all(p.grad is None for p in module.parameters())
    assert model.net[3].p == 0.3  # dropout switched off on the copy only


def test_reading_and_relative_difference() -> None:
    assert reading(1e-9) == "great"
    assert reading(1e-5) == "look closer"
    assert reading(1e-2) == "bug"
    assert reading(float("nan")) == "bug"
    assert relative_difference(torch.zeros(3), torch.zeros(3)) == 0.0
    assert relative_difference(torch.tensor([1.0]), torch.tensor([1.1])) == pytest.approx(0.1 / 2.1)


def test_gradcheck_command_on_the_configured_model(capsys: pytest.CaptureFixture[str]) -> None:
    code = gradcheck_command(["model.hidden_sizes=[8]", "model.dropout=0.2", "gradcheck.max_coords=10"])
    out = capsys.readouterr().out
    assert code == 0
    assert "overall" in out and "great" in out
    assert "Sampled: at most 10 random coordinates" in out


def test_gradcheck_command_rejects_an_unknown_option() -> None:
    # conf/gradcheck.yaml is the one list of the options: the message names the typo and every valid one.
    valid = "batch_size, max_coords, epsilon, seed"
    with pytest.raises(ConfigError, match=rf"gradcheck\.coords is not a key of 'gradcheck'.*{valid}"):
        gradcheck_command(["gradcheck.coords=3"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("gradcheck.batch_size=abc", r"gradcheck\.batch_size='abc' must be an integer"),
        ("gradcheck.epsilon=tiny", r"gradcheck\.epsilon='tiny' must be a number"),
        ("gradcheck.batch_size=1", r"gradcheck\.batch_size must be 2 or more"),
    ],
)
def test_gradcheck_command_rejects_a_bad_value(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        gradcheck_command([override])
