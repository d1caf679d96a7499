"""A run made in the store whose id never reached the journal is found by its key, never made twice.

The window: ``create_run`` has committed, and the process is killed (or the reply is lost)
before the journal's ``run`` mark is written. The journal's ``run_key``, tagged on the run at
creation, lets an upload, a retry or a resume find that run. A real SQLite store, a real
process killed with SIGKILL at that exact moment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainer.tracking import MLflowLogger
from trainer.tracking.delivery import RUN_KEY_TAG
from trainer.tracking.journal import JOURNAL_NAME, read_journal
from trainer.tracking.upload import upload_journal

from .conftest import EXPERIMENT, Store, kill_after_create


def test_upload_closes_the_run_a_killed_process_made_instead_of_making_another(
    sqlite_store: Store, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    kill_after_create(sqlite_store.uri, run_dir)
    state = read_journal(run_dir / JOURNAL_NAME)
    assert not state.run_confirmed  # the id never reached the journal
    [orphan] = sqlite_store.runs()
    assert orphan.info.status == "RUNNING"
    assert orphan.data.tags[RUN_KEY_TAG] == state.header["run_key"]

    summary = upload_journal(run_dir, tracking_uri=sqlite_store.uri)

    [run] = sqlite_store.runs()
    assert run.info.run_id == orphan.info.run_id == summary["run_id"]
    assert run.info.status == "KILLED"
    assert read_journal(run_dir / JOURNAL_NAME).run_id == run.info.run_id


def test_a_resume_continues_the_run_a_killed_process_made(sqlite_store: Store, tmp_path: Path) -> None:
    killed_dir = tmp_path / "killed"
    kill_after_create(sqlite_store.uri, killed_dir)
    [orphan] = sqlite_store.runs()

    logger = MLflowLogger(tracking_uri=sqlite_store.uri, experiment_name=EXPERIMENT, flush_interval=0.05)
    logger.start(
        run_name="resumed",
        run_dir=tmp_path / "resumed",
        resume_from=killed_dir / "checkpoints" / "last.ckpt",
        resume_step=0,
    )
    logger.log_metrics({"loss": 0.5}, step=1)
    logger.finalize("FINISHED")

    [run] = sqlite_store.runs()
    assert run.info.run_id == orphan.info.run_id == logger.run_id
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"loss": 0.5}


def test_a_create_whose_reply_was_lost_is_found_on_retry(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    real_create = MlflowClient.create_run
    calls: list[str] = []

    def create_then_lose_the_reply(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = real_create(self, *args, **kwargs)
        calls.append(run.info.run_id)
        if len(calls) == 1:  # the store made it; the answer never arrived
            raise ConnectionError("connection reset by peer")
        return run

    monkeypatch.setattr(MlflowClient, "create_run", create_then_lose_the_reply)
    logger = MLflowLogger(tracking_uri=sqlite_store.uri, experiment_name=EXPERIMENT, flush_interval=0.05)
    logger.start(run_name="flaky", run_dir=tmp_path / "run")  # warns; the writer retries
    logger.log_metrics({"loss": 0.25}, step=1)
    logger.finalize("FINISHED")

    assert len(calls) == 1  # the retry found the run instead of making another
    [run] = sqlite_store.runs()
    assert run.info.run_id == calls[0] == logger.run_id
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"loss": 0.25}
