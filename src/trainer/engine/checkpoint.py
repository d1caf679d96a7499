"""Self-contained checkpoints: written atomically, read with ``weights_only=True``, checked strictly."""

from __future__ import annotations

import os
import random
import re
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainer.data.file_sniff import describe_file
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
        "progress",
    }
)

#: Keys a file may lack: ``progress`` (the position within an epoch) came later, and a file
#: without it was written at the end of an epoch, which is what this default says.
OPTIONAL_KEYS: dict[str, Any] = {"progress": {"batch": 0, "loss_sum": 0.0}}


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
        raise UserError(_unreadable_message(source, exc)) from exc
    if not isinstance(state, dict) or "format_version" not in state:
        raise UserError(f"ckpt_path={str(path)!r} is not a checkpoint written by this trainer.")
    state = {**{key: dict(value) for key, value in OPTIONAL_KEYS.items()}, **state}
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


def _unreadable_message(source: Path, exc: Exception) -> str:
    """Why torch could not load ``source``, in words: name the file's real kind first.

    torch's own message for a text file is "invalid load key, 'h'", and for a CSV "101"
    (the byte 'e'): true but useless. The file's first bytes say what was passed instead.
    """
    where = f"ckpt_path={str(source)!r}"
    what = describe_file(source)
    if what.startswith(("a PyTorch file", "a Python pickle")):
        # A real torch file that the safe load refuses: a foreign object or a code payload. torch's
        # own text advises weights_only=False, which would run whatever the file holds: only the
        # object it refused is quoted from it.
        refused = re.search(r"GLOBAL ([\w.]+)", str(exc))
        held = f"a Python object ({refused.group(1)})" if refused else "data"
        return (
            f"{where} is {what} that could not be read safely: it holds {held} that a safe load "
            "refuses. It is not a checkpoint this trainer wrote, and loading it fully could run code "
            "from the file. Pass a .ckpt file this trainer wrote (runs/<run>/checkpoints/last.ckpt)."
        )
    if what.startswith("a zip archive"):
        what = f"{what}, not a PyTorch file"
    return (
        f"{where} is not a checkpoint: it is {what}. Pass a .ckpt file this trainer wrote "
        "(runs/<run>/checkpoints/last.ckpt)."
    )


def check_checkpoint_fits(
    path: str | Path,
    model: torch.nn.Module,
    *,
    model_config: Mapping[str, Any] | None = None,
    fix: str | None = None,
) -> dict[str, Any]:
    """Load a checkpoint and check that its weights fit ``model``, before anything else starts.

    Called before the tracking run and the run folder are made, so a checkpoint from another
    model costs one line instead of an empty run in the store and warnings before the error.

    Args:
        path: the ``.ckpt`` file.
        model: a freshly built model of the run that will load it (its weights are not changed).
        model_config: this run's resolved ``model`` config; when given, the settings that differ
            from the ones the checkpoint was saved with are named as overrides to paste.
        fix: the sentence that says what to do instead, when the caller knows better (the
            model may be right and the data of another shape).

    Returns:
        The checkpoint's state, as :func:`load_checkpoint` returns it (so it is read once).

    Raises:
        UserError: the file is not a checkpoint, or its weights' names or shapes differ from
            ``model``'s.
    """
    state = load_checkpoint(path)
    problems = weight_mismatch(state["model"], model)
    if not problems:
        return state
    if fix is None:
        fix = "Use the same model settings as the run that saved it (they are stored in its config)"
        overrides = _differing_overrides(state.get("config") or {}, model_config)
        if overrides:
            fix += f": add {' '.join(overrides)}"
    raise UserError(f"ckpt_path={str(path)!r} does not fit this model: {problems}. {fix}.")


def weight_mismatch(saved: Mapping[str, Any], model: torch.nn.Module) -> str:
    """How ``saved`` weights differ from ``model``'s, in one line; "" when they fit.

    The first few of each kind are named: torch's own ``load_state_dict`` error lists every
    key and shape, over many lines.
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in saved]
    unexpected = [key for key in saved if key not in expected]
    wrong = [
        f"{key} {tuple(saved[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in saved and tuple(saved[key].shape) != tuple(value.shape)
    ]
    problems = []
    if wrong:
        problems.append(f"shapes differ (checkpoint vs this model): {_first(wrong)}")
    if missing:
        problems.append(f"this model has weights the checkpoint lacks: {_first(missing)}")
    if unexpected:
        problems.append(f"the checkpoint has weights this model lacks: {_first(unexpected)}")
    return "; ".join(problems)


def _first(items: list[str], limit: int = 3) -> str:
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _differing_overrides(
    saved_config: Mapping[str, Any], model_config: Mapping[str, Any] | None
) -> list[str]:
    """``model.<key>=<value>`` for each model setting the checkpoint was saved with that differs."""
    saved_model = saved_config.get("model")
    if model_config is None or not isinstance(saved_model, Mapping):
        return []
    overrides = []
    for key, value in saved_model.items():
        if str(key).startswith("_") or model_config.get(key) == value:
            continue
        # Quoted for the shell ([64,32] is a glob pattern to bash); Hydra reads the rest.
        overrides.append(shlex.quote(f"model.{key}={override_value(value)}"))
    return overrides


def override_value(value: Any) -> str:
    """A value written the way a Hydra override reads it back: [64,32], true, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    return str(value)


def capture_rng_state() -> dict[str, Any]:
    """Every random stream a training step may draw from: torch (CPU, CUDA), Python, NumPy.

    Dropout draws from torch's generators; user code and callbacks may draw from the others.
    All are stored as tensors and numbers, so ``weights_only`` loading reads them back.
    """
    py_version, py_keys, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {
            "version": py_version,
            "keys": torch.tensor(py_keys, dtype=torch.int64),
            "gauss": py_gauss,
        },
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng_state` took (older files hold torch's streams only)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "python" in state:
        py = state["python"]
        random.setstate((py["version"], tuple(int(k) for k in py["keys"].tolist()), py["gauss"]))
    if "numpy" in state:
        npy = state["numpy"]
        keys = npy["keys"].numpy().astype(np.uint32)
        np.random.set_state((npy["name"], keys, npy["pos"], npy["has_gauss"], npy["gauss"]))
