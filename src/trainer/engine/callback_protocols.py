"""What the Trainer asks of a callback beyond its hooks, declared: state, and the checkpoint files.

Callbacks need no base class (hooks are looked up by name), so what else the Trainer relies on
is declared here as ``runtime_checkable`` protocols instead of probed by attribute name, and
without importing any callback class: the Trainer finds "the checkpoint callback" by what it
offers (:class:`CheckpointCallback`), so ``engine/trainer.py`` and
``engine/callbacks/model_checkpoint.py`` do not import each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class StatefulCallback(Protocol):
    """A callback whose state goes into checkpoints, so a resumed run continues where it stopped."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class CheckpointCallback(Protocol):
    """The callback that writes a run's checkpoints (``ModelCheckpoint``).

    The Trainer writes ``last.ckpt`` through it when a run stops between epochs, names its last
    good file in a non-finite-loss error, and tests ``ckpt_path='best'`` with its best file; the
    commands read both paths after a fit.

    Attributes:
        save_last: whether it keeps ``last.ckpt`` at epoch ends.
        best_model_path: the best checkpoint by its monitor, ``""`` while none.
        last_model_path: the latest ``last.ckpt`` written, ``""`` while none.
    """

    save_last: bool
    best_model_path: str
    last_model_path: str

    # ``trainer`` is the Trainer; naming its class here would import it back into the callbacks.
    def write_last(self, trainer: Any) -> Path:
        """Save ``last.ckpt`` at the trainer's current position; return its path."""
        ...


@runtime_checkable
class RanksCheckpoints(Protocol):
    """A checkpoint callback that also says by what it ranks (``ModelCheckpoint`` does): the
    end of a run names the best epoch and its value from it.

    Attributes:
        monitor: the metric it keeps the best of (None: it keeps the latest).
        best_model_score: the monitor's value in the best checkpoint, None while none.
    """

    monitor: str | None
    best_model_score: float | None


def state_key(callback: Any) -> str:
    """Key of a callback's state in checkpoints: its ``state_key``, else its class name."""
    return getattr(callback, "state_key", type(callback).__name__)


def find_checkpoint_callback(callbacks: Iterable[Any]) -> CheckpointCallback | None:
    """The first callback that writes checkpoints, if any."""
    return next((cb for cb in callbacks if isinstance(cb, CheckpointCallback)), None)
