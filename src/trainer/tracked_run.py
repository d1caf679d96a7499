"""One way to run a tracked command: a run folder, a started logger, and one final status.

Every command that makes a run (``trainer train``, each fraud approach and the fraud study,
``trainer lr-find``, a sweep's parent run) scopes it with :func:`tracked_run`, as
``mlflow.start_run`` scopes one: the block's outcome decides the status (FINISHED when it
returns, KILLED on Ctrl-C or SIGTERM, the status a :class:`~trainer.errors.RunStopped` names,
FAILED with an ``error`` tag on anything else), the run's log file goes with the record, and the
logger is finalized exactly once. What a command prints at its end about where the run is comes
from :meth:`TrackedRun.where_lines`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from trainer import startup_gc
from trainer.errors import RunStopped
from trainer.run_dir import log_to_file, make_run_dir, write_config_files
from trainer.tracking.base import Logger

log = logging.getLogger(__name__)

#: The longest ``error`` tag recorded (MLflow refuses tag values past 8,000 characters).
ERROR_TAG_LIMIT = 5000


class RunStatus(StrEnum):
    """How a tracked run ended; the values are MLflow's run statuses."""

    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@dataclass
class RunFolder:
    """A run's local folder, and whether this command made it (so it may remove it again).

    Attributes:
        path: the folder.
        made_here: True when this command created it; a run that fails before anything was
            recorded may then :meth:`discard` it.
    """

    path: Path
    made_here: bool = True
    made_parents: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, *, chosen: str | Path | None, runs_dir: str | Path, run_name: str) -> RunFolder:
        """``chosen`` when the user named one (created if missing), else a new dated folder.

        Args:
            chosen: ``paths.run_dir`` from the config, or None/"" for a new one.
            runs_dir: where new folders go (``paths.runs_dir``).
            run_name: the readable name in a new folder's name.
        """
        if chosen:
            path = Path(chosen)
            made_here = not path.exists()
            parents = _missing_parents(path)
            path.mkdir(parents=True, exist_ok=True)
            return cls(path=path, made_here=made_here, made_parents=parents if made_here else [])
        parents = _missing_parents(Path(runs_dir) / "run")  # runs/ itself, and above it
        return cls(path=make_run_dir(runs_dir, run_name), made_here=True, made_parents=parents)

    def write_config(
        self, cfg: DictConfig, overrides: list[str], hydra_cfg: dict[str, Any] | None = None
    ) -> None:
        """``config.yaml`` and Hydra's ``.hydra/`` files (see :func:`trainer.run_dir.write_config_files`)."""
        write_config_files(self.path, cfg, overrides, hydra_cfg)

    def discard(self) -> None:
        """Remove the folder if this command made it (a mistake found before anything ran), and
        the folders it made above it (``runs/`` on a first run) that are empty now."""
        if not self.made_here:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        for parent in self.made_parents:  # innermost first
            try:
                parent.rmdir()  # only when empty: another run may have started in it meanwhile
            except OSError:
                break


def _missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, innermost first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


@dataclass
class TrackedRun:
    """The handle :func:`tracked_run` yields: the started logger, the folder, and the outcome.

    Attributes:
        logger: the started logger; record through it inside the block.
        folder: the run folder.
        status: the final status, set when the block ends.
        location: the logger's lines on where the record is, set when the run is closed.
        pending_path: where undelivered records were kept, set when the run is closed.
    """

    logger: Logger
    folder: RunFolder
    status: RunStatus | None = None
    location: list[str] = field(default_factory=list)
    pending_path: Path | None = None

    @property
    def run_id(self) -> str | None:
        """The tracker's id of the run (None for loggers without one)."""
        return self.logger.run_id

    def where_lines(self) -> list[str]:
        """What a command prints at its end: the folder, then where the record is and how to browse it."""
        return [f"Run saved to {self.folder.path}", *(f"  {line}" for line in self.location)]


def _status_of(exc: BaseException) -> RunStatus:
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, and SIGTERM (Preempted is one)
        return RunStatus.KILLED
    if isinstance(exc, RunStopped):  # stopped on purpose (a pruned trial): not a failure
        return RunStatus(exc.run_status)
    return RunStatus.FAILED


@contextmanager
def tracked_run(
    logger: Logger,
    *,
    folder: RunFolder,
    run_name: str,
    log_file: str | None = None,
    parent_run_id: str | None = None,
    resume_run_id: str | None = None,
    resume_step: int | None = None,
    resume_from: Path | None = None,
    run_key: str | None = None,
) -> Iterator[TrackedRun]:
    """Start ``logger`` for one run, yield the handle, and close the run with one status.

    Args:
        logger: a logger that has not been started.
        folder: the run folder.
        run_name: the run's readable name.
        log_file: a file name inside the folder that receives the ``trainer`` loggers' records
            for the block and is recorded with the run at its end (``train.log``); None: none.
        parent_run_id: nest the run under this one.
        resume_run_id, resume_step, resume_from, run_key: see :meth:`Logger.start`.

    Yields:
        The :class:`TrackedRun`; its ``status`` and ``location`` are set once the block ends.

    Raises:
        Whatever the block raises, after the run was closed with the matching status.
    """
    with _log_file(folder.path, log_file):
        run = TrackedRun(logger=logger, folder=folder)
        started = False
        status = RunStatus.FAILED
        try:
            # Inside the try: a Ctrl-C that lands after the store made the run but before start
            # returned must still close that run (KILLED), or it stays RUNNING for ever.
            logger.start(
                run_name=run_name,
                run_dir=folder.path,
                resume_run_id=resume_run_id,
                parent_run_id=parent_run_id,
                resume_step=resume_step,
                resume_from=resume_from,
                run_key=run_key,
            )
            started = True
            # The command's heavy parts exist now: freeze them, and collect from here on.
            startup_gc.settle()
            yield run
            status = RunStatus.FINISHED
        except BaseException as exc:
            status = _status_of(exc)
            if status is RunStatus.FAILED and started:
                log.error("The run failed: %s", exc)  # the folder stays, so its log says why
                logger.set_tags({"error": f"{type(exc).__name__}: {exc}"[:ERROR_TAG_LIMIT]})
            elif status is RunStatus.KILLED and not isinstance(exc, RunStopped):
                log.error("Interrupted; the run folder keeps everything saved so far.")
            raise
        finally:
            run.status = status
            if started and log_file and (folder.path / log_file).is_file():
                logger.log_artifact(folder.path / log_file)
            logger.finalize(status.value)  # a logger whose start failed closes what it opened, if anything
            run.location = logger.location_lines()
            run.pending_path = logger.pending_path


@contextmanager
def _log_file(run_dir: Path, name: str | None) -> Iterator[None]:
    if name is None:
        yield
        return
    with log_to_file(run_dir / name):
        yield
