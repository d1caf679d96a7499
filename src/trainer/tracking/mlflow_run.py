"""The MLflow run a logger records into: named in its journal's header, opened once, when first needed."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.redact import redact
from trainer.tracking.delivery import open_run

log = logging.getLogger(__name__)


class PendingRun:
    """A run that exists in the journal from the start and in MLflow once the store answers.

    The run's thread (at start, or with a dataset or file) and the writer thread (with a batch)
    may each need the run first; it is opened once, under a lock, and a store that is away leaves
    it unopened until the next need. A retry first looks for a run tagged with the journal's run
    key, since an earlier try may have made it without its answer arriving.

    Args:
        tracking_uri: the store.
        experiment_name: created on first use.
        run_name: the run's name in MLflow.
        resume_run_id: the checkpoint's run, reopened if the store has it.
        tags: the run's tags (already redacted).
    """

    def __init__(
        self,
        *,
        tracking_uri: str,
        experiment_name: str,
        run_name: str,
        resume_run_id: str | None,
        tags: dict[str, str],
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.resume_run_id = resume_run_id
        self.tags = tags
        self.start_time = int(time.time() * 1000)
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.run_key: str | None = None  # tagged on the run: see delivery.RUN_KEY_TAG
        self._may_exist = False  # an earlier attempt may have made the run under that key
        self._lock = threading.Lock()  # the writer thread and the run's thread both open the run

    def journal_header(
        self,
        *,
        parent_run_id: str | None,
        resume_step: int | None,
        registered_model_name: str | None,
        run_key: str | None,
        run_dir: Path | None = None,
    ) -> dict[str, Any]:
        """The journal's first line: what ``trainer upload`` needs to make this run again.

        ``run_dir`` is where the run's files were when they were journaled: an upload from a
        folder that was moved since finds them at the same place inside its new location.
        """
        return {
            "run_dir": str(run_dir.resolve()) if run_dir is not None else None,
            "tracking_uri": redact(self.tracking_uri),  # credentials come from the environment at upload
            "experiment_name": self.experiment_name,
            "run_name": self.run_name,
            "run_id": self.resume_run_id,
            "parent_run_id": parent_run_id,
            "start_time": self.start_time,
            "resume_step": resume_step,
            "run_tags": self.tags,
            "registered_model_name": registered_model_name,
            "run_key": run_key or uuid.uuid4().hex,
        }

    def adopt(self, header: dict[str, Any], *, may_exist: bool) -> None:
        """Take what the opened journal says: whether the run moved to a new one, when it really
        started, its key, and whether a killed attempt may have made it already."""
        self.resume_run_id, self.start_time = header["run_id"], header["start_time"]
        self.run_key, self._may_exist = header["run_key"], may_exist

    def ensure(self, client: Any, on_open: Callable[[str, str | None], None]) -> str:
        """The run's id, opening (or reopening) it first if needed.

        Args:
            client: an ``MlflowClient`` of the store.
            on_open: called once, under the lock, with the new run's id and the id of the run it
                continues when the store did not have that one (else None).

        Raises:
            Exception: whatever the store raised; the run stays unopened and the next call retries.
        """
        with self._lock:
            if self.run_id:
                return self.run_id
            may_exist, self._may_exist = self._may_exist, True  # a retry: this try may succeed unseen
            run_id, experiment_id, missing = open_run(
                client,
                tracking_uri=self.tracking_uri,
                experiment_name=self.experiment_name,
                run_name=self.run_name,
                run_id=self.resume_run_id,
                tags=self.tags,
                start_time=self.start_time,
                run_key=self.run_key,
                may_exist=may_exist,
            )
            if missing:
                log.warning(
                    "Run %s is not in the tracking store %s; continuing in a new run %s there, tagged "
                    "resumed_from=%s.",
                    missing,
                    redact(self.tracking_uri),
                    run_id,
                    missing,
                )
            on_open(run_id, missing)
            self.run_id, self.experiment_id = run_id, experiment_id
            return run_id
