"""One precision path: autocast on accelerators, a no-op on full precision, GradScaler for fp16."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from trainer.errors import ConfigError

PRECISIONS = ("32", "bf16-mixed", "16-mixed")


def normalize_precision(precision: str | int) -> str:
    """Accept Lightning's spellings (32, "32-true", "bf16", "16") and return one of PRECISIONS."""
    text = str(precision).lower()
    aliases = {
        "32": "32",
        "32-true": "32",
        "bf16": "bf16-mixed",
        "bf16-mixed": "bf16-mixed",
        "16": "16-mixed",
        "16-mixed": "16-mixed",
    }
    if text not in aliases:
        raise ConfigError(
            f"trainer.precision={precision!r} is not supported; choose one of {', '.join(PRECISIONS)}."
        )
    return aliases[text]


def autocast_factory(precision: str, device: torch.device) -> Callable[[], AbstractContextManager[object]]:
    """Return a zero-argument factory of the forward-pass context for this precision and device.

    bf16 autocast works on CPU and CUDA; fp16 needs an accelerator, because on CPU
    half precision is slower than fp32 and gradient scaling there buys nothing.
    """
    if precision == "32":
        return contextlib.nullcontext
    if precision == "16-mixed" and device.type == "cpu":
        raise ConfigError(
            "trainer.precision=16-mixed needs a CUDA or MPS device; on CPU use "
            "trainer.precision=bf16-mixed or trainer.precision=32."
        )
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    device_type = device.type

    def make() -> AbstractContextManager[object]:
        return torch.autocast(device_type=device_type, dtype=dtype)

    return make


def make_grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """A GradScaler that is active only for fp16 (bf16 has fp32's range and needs none)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
