"""The model summary printed and logged at the start of each run."""

from __future__ import annotations

import torch
from torch import nn

from trainer.diagnostics import model_summary
from trainer.models import MLP


def test_summary_lists_layers_output_shapes_and_parameters() -> None:
    model = MLP(in_features=30, out_features=1, hidden_sizes=[64, 32], batch_norm="before", dropout=0.2)
    model.train()
    text = model_summary(model, torch.randn(1, 30))  # one row: batch norm must be in eval mode
    lines = text.splitlines()
    assert lines[0] == "Model: MLP"
    assert any(line.startswith("net.0 (Linear)") and "[-1, 64]" in line and "1,920" in line for line in lines)
    assert any(line.startswith("net.1 (BatchNorm1d)") and "128" in line for line in lines)
    assert any(line.startswith("net.8 (Linear)") and "[-1, 1]" in line and "33" in line for line in lines)
    total = sum(p.numel() for p in model.parameters())
    assert f"Total params: {total:,}" in text
    assert model.training  # mode restored
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_summary_counts_frozen_parameters_and_tuple_outputs() -> None:
    model = nn.GRU(3, 5, batch_first=True)
    model.bias_hh_l0.requires_grad_(False)
    text = model_summary(model, torch.randn(2, 7, 3))
    assert "([2, 7, 5], [1, 2, 5])" in text
    assert "Non-trainable params: 15" in text
