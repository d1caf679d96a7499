"""``trainer eval`` scores the network the checkpoint holds: an override that would build another
network is refused, data of another shape and a foreign file are named in one line each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from trainer.cli import main
from trainer.engine import Trainer
from trainer.engine.checkpoint import load_checkpoint
from trainer.engine.training_state import restore_weights
from trainer.errors import ConfigError, UserError
from trainer.evaluate import evaluate
from trainer.models import MLP
from trainer.train import RunResult


@pytest.fixture(scope="module")
def relu_run(one_epoch_run: RunResult) -> RunResult:
    """A real one-epoch run of the default ReLU MLP on breast_cancer (30 features, binary)."""
    return one_epoch_run


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("override", "change"),
    [
        ("model.activation=tanh", "model.activation: relu -> tanh"),  # same shapes: would load silently
        ("model=linear", "model.hidden_sizes: [64,32] -> []"),
        ("model.hidden_sizes=[8]", "model.hidden_sizes: [64,32] -> [8]"),
    ],
)
def test_an_override_that_changes_the_network_is_refused(
    relu_run: RunResult, override: str, change: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        evaluate(relu_run.last_checkpoint, [override])
    message = _one_line(caught)
    assert message.startswith(f"{override} would change the network the checkpoint holds ({change}")
    assert "Leave the model overrides out" in message


def test_the_same_model_value_and_other_settings_still_score(relu_run: RunResult) -> None:
    metrics = evaluate(relu_run.last_checkpoint, ["model.activation=relu", "trainer.accelerator=cpu"])
    assert metrics["test/accuracy"] == pytest.approx(relu_run.metrics["test/accuracy"])


def test_data_of_another_shape_is_one_line_naming_the_shapes(relu_run: RunResult) -> None:
    with pytest.raises(UserError) as caught:
        evaluate(relu_run.last_checkpoint, ["data=digits"])
    message = _one_line(caught)
    assert "shapes differ (checkpoint vs this model): net.0.weight (64, 30) vs (64, 64)" in message
    assert "score data with the feature columns and classes of the data it was trained on" in message


def test_a_section_given_a_plain_value_is_named_with_the_option_meant(relu_run: RunResult) -> None:
    with pytest.raises(ConfigError) as caught:
        evaluate(relu_run.last_checkpoint, ["data.source=digits"])
    assert _one_line(caught) == (
        "data.source='digits' is a plain value, but data.source is a section that builds a TableSource "
        "(a _target_ and its settings); to use other data, choose the option: data=digits."
    )


def test_weights_of_another_shape_at_load_time_are_one_line(relu_run: RunResult) -> None:
    """The Trainer's own load (resume, test, eval) names the differences instead of torch's dump."""
    model = MLP(in_features=30, out_features=1, hidden_sizes=[8])
    module_state = load_checkpoint(relu_run.last_checkpoint)
    with pytest.raises(UserError) as caught:
        restore_weights(Trainer(accelerator="cpu"), model, module_state)
    message = _one_line(caught)
    assert "shapes differ (checkpoint vs this model): net.0.weight (64, 30) vs (8, 30)" in message
    assert "the checkpoint has weights this model lacks: net.4.weight, net.4.bias" in message


def test_a_file_with_code_in_it_is_refused_without_torchs_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("true",))

    path = tmp_path / "evil.ckpt"
    torch.save({"format_version": 1, "model": Payload()}, path)
    assert main(["eval", f"ckpt_path={path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"error: ckpt_path='{path}' is a PyTorch file (torch.save) that could not be read safely"
    )
    assert f"a Python object ({os.system.__module__}.system)" in err
    assert "weights_only" not in err and "\n" not in err
