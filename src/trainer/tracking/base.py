"""The small interface every logger follows; the Trainer and train() talk only to this."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Logger(Protocol):
    """A sink for one run's params, metrics and files.

    ``log_metrics`` is called from the training loop and must return at once: an
    implementation that does I/O queues the points and writes them elsewhere.
    """

    @property
    def run_id(self) -> str | None:
        """An id to store in checkpoints so a resumed run continues the same record."""
        ...

    def start(self, *, run_name: str, run_dir: Path, resume_run_id: str | None = None) -> None:
        """Open the record of a run (or reopen ``resume_run_id`` when resuming a checkpoint)."""
        ...

    def log_hyperparams(self, params: dict[str, Any]) -> None: ...

    def set_tags(self, tags: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None: ...

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None: ...

    def finalize(self, status: str) -> None:
        """Flush everything and close the run; ``status`` is FINISHED, FAILED or KILLED."""
        ...


class NullLogger:
    """Records nothing (``logger=none``)."""

    @property
    def run_id(self) -> str | None:
        return None

    def start(self, *, run_name: str, run_dir: Path, resume_run_id: str | None = None) -> None:
        return None

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        return None

    def set_tags(self, tags: dict[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        return None

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        return None

    def finalize(self, status: str) -> None:
        return None
