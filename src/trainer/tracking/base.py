"""The one interface every logger follows; the Trainer, train() and the CLI talk only to this.

Everything a run may ask of a logger is a method here. The core records (params, tags,
metrics, files) are abstract; the rest have do-nothing defaults, so a logger that has no
datasets, models or server to point at says nothing about them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class Logger(ABC):
    """A sink for one run's params, metrics and files.

    ``log_metrics`` is called from the training loop and must return at once: an
    implementation that does I/O queues the points and writes them elsewhere.
    """

    @property
    def run_id(self) -> str | None:
        """An id to store in checkpoints so a resumed run continues the same record."""
        return None

    @abstractmethod
    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
        resume_step: int | None = None,
        resume_from: Path | None = None,
        run_key: str | None = None,
    ) -> None:
        """Open the record of a run.

        Args:
            run_name: readable name of the run.
            run_dir: the run folder (for files the logger keeps locally).
            resume_run_id: reopen this run when resuming a checkpoint.
            parent_run_id: nest the run under this one (a sweep trial under its study).
            resume_step: the checkpoint's global step when resuming: the run replays the steps
                after it, so a logger that kept records of them must not record them twice.
            resume_from: the checkpoint file being resumed (its run folder holds what the
                logger kept of the run before).
            run_key: names this run across attempts (a sweep's parent run): a run opened under
                this key by a process killed before the caller recorded its id is continued,
                not opened again.
        """

    @abstractmethod
    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Record flat ``key -> value`` params once per run."""

    @abstractmethod
    def set_tags(self, tags: dict[str, Any]) -> None:
        """Record or overwrite string tags."""

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        """Queue scalar metrics at ``step``; returns at once."""

    @abstractmethod
    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        """Store a file or a folder with the run (under ``artifact_path`` when given)."""

    def persist(self) -> None:
        """Make every record logged so far survive a kill of this process (before a checkpoint)."""
        return None

    @abstractmethod
    def finalize(self, status: str) -> None:
        """Flush everything and close the run; ``status`` is FINISHED, FAILED or KILLED."""

    # ------------------------------------------------------------------ optional records
    @property
    def records_checkpoints(self) -> bool:
        """Whether the run should hand its best and last checkpoints to :meth:`log_artifact`."""
        return False

    @property
    def records_model(self) -> bool:
        """Whether the run should package its model for :meth:`log_model` (it costs seconds)."""
        return False

    def log_dataset(self, frames: dict[str, Any], *, name: str, source: str, target: str) -> None:
        """Record each split (a DataFrame per split name) as a dataset input of the run."""
        return None

    def log_model(self, local_dir: Path, *, step: int = 0) -> str | None:
        """Record a packaged model folder; return its URI, or None when not recorded."""
        return None

    @property
    def pending_path(self) -> Path | None:
        """Where records the tracking store never received were saved, if anywhere."""
        return None

    def location_lines(self) -> list[str]:
        """Lines telling the user where the run's record is and how to browse it."""
        return []

    def run_address(self, run_id: str) -> str | None:
        """The page of ``run_id`` (a run of this logger's experiment) in the tracker's UI, if it has one."""
        return None


class NullLogger(Logger):
    """Records nothing (``logger=none``)."""

    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
        resume_step: int | None = None,
        resume_from: Path | None = None,
        run_key: str | None = None,
    ) -> None:
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
