"""Self-contained checkpoints: written atomically, read with ``weights_only=True``, checked strictly."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from trainer.errors import UserError

FORMAT_VERSION = 1

#: Every key a checkpoint holds. Anything else is an error: it means the file was written by
#: a different program or version, and silently ignoring state is how resumes go wrong.
CHECKPOINT_KEYS = frozenset(
    {
        "format_version",
        "model",
        "optimizer",
        "scheduler",
        "grad_scaler",
        "epoch",
        "global_step",
        "callbacks",
        "rng",
        "config",
        "tracking_run_id",
        "metrics",
    }
)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` through a temporary file, so a crash never leaves half a file."""
    unknown = set(state) - CHECKPOINT_KEYS
    if unknown:
        raise ValueError(f"checkpoint state has unknown keys {sorted(unknown)}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"format_version": FORMAT_VERSION, **state}, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (tensors and plain containers only) and check its keys.

    Raises:
        UserError: the file is missing, unreadable, or not one of our checkpoints.
    """
    source = Path(path)
    if not source.is_file():
        raise UserError(
            f"ckpt_path={str(path)!r} does not exist; pass the path of a .ckpt file "
            "(runs/<run>/checkpoints/last.ckpt resumes the latest epoch)."
        )
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise UserError(f"ckpt_path={str(path)!r} could not be read as a checkpoint: {exc}") from exc
    if not isinstance(state, dict) or "format_version" not in state:
        raise UserError(f"ckpt_path={str(path)!r} is not a checkpoint written by this trainer.")
    leftover = set(state) - CHECKPOINT_KEYS
    if leftover:
        raise UserError(
            f"ckpt_path={str(path)!r} holds keys this trainer does not know: {sorted(leftover)}; "
            "it was written by another program or version."
        )
    missing = CHECKPOINT_KEYS - set(state)
    if missing:
        # Caught here, or a resume dies later on a bare KeyError deep in the Trainer.
        raise UserError(
            f"ckpt_path={str(path)!r} lacks keys {sorted(missing)}; it is truncated or was written "
            "by another program or version."
        )
    if state["format_version"] != FORMAT_VERSION:
        raise UserError(
            f"ckpt_path={str(path)!r} has format version {state['format_version']}, "
            f"this trainer reads version {FORMAT_VERSION}."
        )
    return state


def capture_rng_state() -> dict[str, Any]:
    """Torch's CPU and CUDA generator states (dropout draws from them)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
