"""``model.hidden_sizes=[]`` builds a linear model: allowed (model=linear is the baseline), and said."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from trainer.models import MLP


def test_an_mlp_without_hidden_layers_says_it_is_linear(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="trainer"):
        model = MLP(in_features=30, out_features=1, hidden_sizes=[], activation="tanh")
    assert [type(layer) for layer in model.net] == [nn.Linear]  # still built: a linear model
    assert model(torch.randn(4, 30)).shape == (4, 1)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert "model.hidden_sizes=[]" in message
    assert "(30 -> 1) has no hidden layer, so it is a linear model" in message
    assert "model.activation, batch_norm and dropout do nothing" in message


def test_an_mlp_with_hidden_layers_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="trainer"):
        MLP(in_features=30, out_features=1, hidden_sizes=[8])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
