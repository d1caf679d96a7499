"""``trainer upload`` of a run folder that moved: its files are found at their new place; files that
are nowhere are not counted as sent, stay in the journal, and their missing folder is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainer.cli import main
from trainer.tracking import MLflowLogger
from trainer.tracking.journal import JOURNAL_NAME, read_journal
from trainer.tracking.upload import upload_journal

from .conftest import Store, free_port, list_artifacts


def _offline_run(run_dir: Path) -> None:
    """A run whose server was down: every record, files included, waits in its journal."""
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("seed: 1\n")
    (run_dir / "model" / "MLmodel").write_text("flavors: {}\n")
    logger = MLflowLogger(
        tracking_uri=f"http://127.0.0.1:{free_port()}",
        flush_interval=0.05,
        close_timeout=1.0,
        request_timeout=1.0,
    )
    logger.start(run_name="offline", run_dir=run_dir)
    logger.log_metrics({"train/loss": 0.5}, step=1)
    logger.log_artifact(run_dir / "config.yaml")
    logger.log_model(run_dir / "model", step=1)
    logger.finalize("FINISHED")


def test_a_moved_run_folder_is_uploaded_from_where_it_is_now(sqlite_store: Store, tmp_path: Path) -> None:
    _offline_run(tmp_path / "runs" / "a")
    moved = shutil.move(tmp_path / "runs" / "a", tmp_path / "elsewhere")

    summary = upload_journal(moved, tracking_uri=sqlite_store.uri)

    assert (summary["artifacts"], summary["missing"]) == (2, 0)
    (run,) = sqlite_store.runs()
    assert list_artifacts(sqlite_store.client, run.info.run_id) == ["config.yaml"]
    assert run.data.tags["model_uri"].startswith("models:/")
    assert read_journal(Path(moved) / JOURNAL_NAME).undelivered(prior_in_store=True) == []


def test_files_whose_folder_is_gone_are_not_counted_and_their_folder_is_named(
    sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _offline_run(tmp_path / "runs" / "a")
    # Only the journal was kept: the files it names are nowhere on this disk.
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "runs" / "a" / JOURNAL_NAME, tmp_path / "copy" / JOURNAL_NAME)
    shutil.rmtree(tmp_path / "runs")

    status = main(["upload", str(tmp_path / "copy"), f"logger.tracking_uri={sqlite_store.uri}"])

    out, err = capsys.readouterr()
    assert status == 1
    assert "and 0 files or models to run" in out, "nothing counted as sent that was not"
    gone = (tmp_path / "runs").resolve()
    assert err.strip() == (
        f"error: 2 files or models were not uploaded: {gone} no longer exists. Put the run folder back "
        f"there (or copy those files in), then run trainer upload {tmp_path / 'copy'} again."
    )
    assert "server" not in err
    (run,) = sqlite_store.runs()
    assert run.info.status == "FINISHED", "the rest was delivered"
    waiting = read_journal(tmp_path / "copy" / JOURNAL_NAME).undelivered(prior_in_store=True)
    assert sorted(r["kind"] for r in waiting) == ["artifact", "model"], "kept for a later upload"
