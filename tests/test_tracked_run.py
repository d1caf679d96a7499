"""tracked_run: one routine gives every command's run one final status, against a real MLflow store."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from trainer.errors import RunStopped
from trainer.tracked_run import RunFolder, RunStatus, tracked_run
from trainer.tracking.mlflow_logger import MLflowLogger

log = logging.getLogger("trainer.test_tracked_run")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    for key in set(os.environ) - set(saved):  # MLflowLogger sets MLFLOW_* defaults
        del os.environ[key]


def _logger(uri: str) -> MLflowLogger:
    return MLflowLogger(tracking_uri=uri, experiment_name="scoped", log_model=False, flush_interval=0.05)


def _run(uri: str, run_id: str | None) -> tuple[str, dict[str, str], list[str]]:
    assert run_id is not None
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    files = [f.path for f in client.list_artifacts(run_id)]
    return run.info.status, run.data.tags, files


def test_a_block_that_returns_finishes_and_records_its_log(store: str, tmp_path: Path) -> None:
    folder = RunFolder.open(chosen=None, runs_dir=tmp_path / "runs", run_name="ok")
    with tracked_run(_logger(store), folder=folder, run_name="ok", log_file="train.log") as run:
        log.info("inside the run")
        run.logger.log_metrics({"m": 1.0}, step=0)
    assert run.status is RunStatus.FINISHED
    status, tags, files = _run(store, run.run_id)
    assert status == "FINISHED" and "error" not in tags
    assert "train.log" in files
    assert "inside the run" in (folder.path / "train.log").read_text()
    assert run.where_lines()[0] == f"Run saved to {folder.path}"
    assert any("mlflow" in line for line in run.where_lines()[1:]), run.where_lines()


@pytest.mark.parametrize(
    ("error", "expected"),
    [(KeyboardInterrupt(), "KILLED"), (ValueError("bad value 7"), "FAILED")],
)
def test_an_interrupt_is_killed_and_an_error_failed_with_its_reason(
    store: str, tmp_path: Path, error: BaseException, expected: str
) -> None:
    folder = RunFolder.open(chosen=tmp_path / "chosen", runs_dir=tmp_path / "runs", run_name="x")
    handle = None
    with pytest.raises(type(error)), tracked_run(_logger(store), folder=folder, run_name="x") as run:
        handle = run
        raise error
    assert handle is not None and handle.status == RunStatus(expected)
    status, tags, _ = _run(store, handle.run_id)
    assert status == expected
    if expected == "FAILED":
        assert tags["error"] == "ValueError: bad value 7"
    else:
        assert "error" not in tags


def test_a_run_stopped_on_purpose_takes_the_status_it_names(store: str, tmp_path: Path) -> None:
    class Pruned(RunStopped):
        run_status = "FINISHED"

    folder = RunFolder.open(chosen=None, runs_dir=tmp_path / "runs", run_name="pruned")
    handle = None
    with pytest.raises(Pruned), tracked_run(_logger(store), folder=folder, run_name="pruned") as run:
        handle = run
        raise Pruned("pruned at epoch 2")
    assert handle is not None
    status, tags, _ = _run(store, handle.run_id)
    assert (status, "error" in tags) == ("FINISHED", False)


def test_a_folder_is_discarded_only_when_this_command_made_it(tmp_path: Path) -> None:
    made = RunFolder.open(chosen=None, runs_dir=tmp_path / "runs", run_name="new")
    assert made.path.is_dir() and made.made_here
    made.discard()
    assert not made.path.exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    chosen = RunFolder.open(chosen=existing, runs_dir=tmp_path / "runs", run_name="kept")
    assert not chosen.made_here
    chosen.discard()
    assert existing.is_dir()


def test_a_command_logging_before_its_run_starts_writes_each_line_once(store: str, tmp_path: Path) -> None:
    from trainer.run_dir import log_to_file

    folder = RunFolder.open(chosen=None, runs_dir=tmp_path / "runs", run_name="nested")
    with log_to_file(folder.path / "train.log"):
        log.info("before the run")
        with tracked_run(_logger(store), folder=folder, run_name="nested", log_file="train.log"):
            log.info("during the run")
    text = (folder.path / "train.log").read_text()
    assert text.count("before the run") == 1 and text.count("during the run") == 1


def test_a_ctrl_c_as_start_returns_still_closes_the_run_the_store_made(store: str, tmp_path: Path) -> None:
    """The store made the run, then Ctrl-C came before start() returned: the run ends KILLED,
    not RUNNING for ever (a sweep trial interrupted as it opened its run left one so)."""

    class InterruptedAtStart(MLflowLogger):
        def start(self, **kwargs: object) -> None:  # type: ignore[override]
            super().start(**kwargs)  # type: ignore[arg-type]
            raise KeyboardInterrupt

    logger = InterruptedAtStart(tracking_uri=store, experiment_name="scoped", log_model=False)
    folder = RunFolder.open(chosen=None, runs_dir=tmp_path / "runs", run_name="cut")
    handle = None
    with pytest.raises(KeyboardInterrupt), tracked_run(logger, folder=folder, run_name="cut") as run:
        handle = run  # never reached
    assert handle is None
    [made] = MlflowClient(tracking_uri=store).search_runs(
        [MlflowClient(tracking_uri=store).get_experiment_by_name("scoped").experiment_id]
    )
    assert made.info.status == "KILLED"
