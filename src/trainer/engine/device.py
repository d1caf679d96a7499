"""Resolve the accelerator once, and move batches to it in one place."""

from __future__ import annotations

from typing import Any

import torch

from trainer.errors import ConfigError

ACCELERATORS = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(accelerator: str) -> torch.device:
    """Turn ``auto|cpu|cuda|mps`` (or ``cuda:1``) into a concrete device.

    Raises:
        ConfigError: the name is unknown or the accelerator is not present here.
    """
    name = accelerator.lower()
    kind = name.split(":", 1)[0]
    if kind not in ACCELERATORS:
        raise ConfigError(
            f"trainer.accelerator={accelerator!r} is not known; choose one of {', '.join(ACCELERATORS)}."
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator!r} but CUDA is not available on this machine; "
            "use trainer.accelerator=auto or trainer.accelerator=cpu."
        )
    if kind == "mps" and not _mps_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator!r} but MPS is not available on this machine; "
            "use trainer.accelerator=auto or trainer.accelerator=cpu."
        )
    return torch.device(name)


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move a tensor, or a tuple/list/dict of tensors, to ``device`` (no copy if already there)."""
    if isinstance(batch, torch.Tensor):
        # Already there (device-resident tables): skip the call, which costs microseconds a step.
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(move_to_device(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: move_to_device(value, device) for key, value in batch.items()}
    return batch


def describe_device(device: torch.device) -> str:
    """A human name for the device, e.g. ``cuda (NVIDIA H100)`` or ``cpu``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
