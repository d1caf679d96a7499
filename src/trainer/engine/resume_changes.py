"""Name the settings a resume changed from the checkpoint's run, and what that costs the resume.

A resume from ``last.ckpt`` retraces the interrupted run exactly when every setting that decides
what an optimizer step sees and does is the same. Some changes cannot continue at all and are
refused elsewhere (a mid-epoch position in an epoch of another length, a stretched schedule,
weights of another shape); the rest continue. Those are named here, in one warning: the run goes
on from the saved weights and optimizer state, but it is a warm start, not the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from trainer.engine.checkpoint import override_value

log = logging.getLogger(__name__)

#: Config sections and keys that decide the training trajectory: the rows and batches each step
#: sees, the loss, the network, the update. Left out on purpose: trainer.max_epochs (a resume
#: usually extends it), devices, logging, callbacks, paths and names.
TRAJECTORY_KEYS = (
    "seed",
    "data",
    "resample",
    "objective",
    "model",
    "optimizer",
    "scheduler",
    "regularization",
    "trainer.accumulate_grad_batches",
    "trainer.gradient_clip_val",
    "trainer.precision",
)
#: Keys under those sections that only change how evaluation or loading runs, not what is learned.
IGNORED_LEAVES = frozenset({"eval_batch_size", "num_workers", "loader"})


def changed_settings(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, now, in the checkpoint)`` for each trajectory setting whose value differs.

    Args:
        saved: the resolved run config stored in the checkpoint.
        current: this run's resolved config.
    """
    before, now = _flat(saved), _flat(current)
    changes = []
    for key in sorted(before.keys() | now.keys()):
        if not _tracked(key) or before.get(key, NOT_SET) == now.get(key, NOT_SET):
            continue
        changes.append((key, now.get(key, NOT_SET), before.get(key, NOT_SET)))
    return changes


def warn_changed_settings(saved: Mapping[str, Any] | None, current: Mapping[str, Any] | None) -> None:
    """Log one warning naming every changed trajectory setting with both values; silent when none."""
    if not saved or not current:  # a checkpoint or a Trainer without a run config: nothing to compare
        return
    changes = changed_settings(saved, current)
    if not changes:
        return
    listing = ", ".join(f"{key}={_shown(now)} (checkpoint: {_shown(then)})" for key, now, then in changes)
    restore = " ".join(f"{key}={_shown(then)}" for key, _, then in changes if then is not NOT_SET)
    log.warning(
        "Resuming with settings that differ from the checkpoint's run: %s. Training continues from "
        "its weights and optimizer state, but this is not an exact resume: the steps from here on "
        "differ from the interrupted run's, so the result will not match a run that never stopped.%s",
        listing,
        f" For an exact resume, pass {restore}." if restore else "",
    )


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


#: The value of a key one of the two configs lacks.
NOT_SET: Any = _Missing()


def _tracked(key: str) -> bool:
    if key.rsplit(".", 1)[-1] in IGNORED_LEAVES:
        return False
    return any(key == prefix or key.startswith(f"{prefix}.") for prefix in TRAJECTORY_KEYS)


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, name))
        else:
            flat[name] = list(value) if isinstance(value, tuple) else value
    return flat


def _shown(value: Any) -> str:
    """A value the way an override writes it: [64,32], null, true."""
    return repr(value) if value is NOT_SET else override_value(value)
