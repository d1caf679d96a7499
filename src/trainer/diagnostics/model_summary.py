"""A Keras-style model summary: each layer, its output shape and its parameter count."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _shape(output: Any, *, top: bool = True) -> str:
    """``[-1, 64]`` for a tensor (the batch dimension as -1); real shapes inside tuples.

    Inside a tuple (an RNN's ``(output, hidden)``) the batch need not come first, so no
    dimension is replaced there.
    """
    if isinstance(output, torch.Tensor):
        dims = list(output.shape)
        return str([-1, *dims[1:]] if top and dims else dims)
    if isinstance(output, tuple | list):
        return "(" + ", ".join(_shape(item, top=False) for item in output) + ")"
    return type(output).__name__


def model_summary(model: nn.Module, example_input: torch.Tensor) -> str:
    """The summary table of ``model``, from one forward pass of ``example_input``.

    The pass runs in eval mode under ``torch.no_grad`` (batch norm then accepts a single row
    and its running statistics stay as they were); the model's mode is restored afterwards.

    Args:
        model: the network.
        example_input: a small batch (a row or two) shaped like the real inputs, on the model's device.

    Returns:
        One line per leaf layer (``name (Type)``, output shape, own parameters), then the totals.
    """
    rows: list[tuple[str, str, int]] = []
    handles = []

    def hook_for(name: str) -> Any:
        def hook(layer: nn.Module, inputs: Any, output: Any) -> None:
            params = sum(p.numel() for p in layer.parameters(recurse=False))
            rows.append((f"{name} ({type(layer).__name__})", _shape(output), params))

        return hook

    for name, layer in model.named_modules():
        # Leaves only (containers would repeat their children), plus any layer that owns parameters.
        if not list(layer.children()) or any(True for _ in layer.parameters(recurse=False)):
            handles.append(layer.register_forward_hook(hook_for(name or type(model).__name__)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example_input)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    width = max([len(r[0]) for r in rows] + [12])
    shape_width = max([len(r[1]) for r in rows] + [12])
    rule = "-" * (width + shape_width + 16)
    lines = [
        f"Model: {type(model).__name__}",
        rule,
        f"{'Layer (type)':<{width}}  {'Output shape':<{shape_width}}  {'Param #':>12}",
        rule,
    ]
    lines += [f"{name:<{width}}  {shape:<{shape_width}}  {params:>12,}" for name, shape, params in rows]
    lines += [
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Parameter size: {size_mb:.2f} MB",
    ]
    return "\n".join(lines)
