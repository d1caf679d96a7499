"""MLflowLogger on its own (no training): a real SQLite store, and a real port nobody listens on."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from trainer.tracking import MLflowLogger
from trainer.tracking.journal import JOURNAL_NAME, read_journal

from .conftest import SECRET, Store, free_port, list_artifacts, metric_steps


def make_logger(uri: str, **options: object) -> MLflowLogger:
    defaults: dict[str, object] = {"flush_interval": 0.05, "close_timeout": 5.0, "request_timeout": 2.0}
    return MLflowLogger(tracking_uri=uri, **{**defaults, **options})  # type: ignore[arg-type]


def test_a_run_of_records_reaches_the_store(sqlite_store: Store, tmp_path: Path) -> None:
    logger = make_logger(sqlite_store.uri, tags={"team": "fraud", "db": f"postgresql://u:{SECRET}@h/x"})
    logger.start(run_name="plain", run_dir=tmp_path)
    logger.log_hyperparams({"optimizer.lr": 0.001, "model.hidden_sizes": [8, 4]})
    logger.set_tags({"stage": "test"})
    for step in range(1, 251):
        logger.log_metrics({"train/loss_step": 1.0 / step}, step=step)
    (tmp_path / "notes.txt").write_text("hello")
    logger.log_artifact(tmp_path / "notes.txt")
    logger.finalize("FINISHED")

    run = sqlite_store.client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "plain"
    assert run.data.params == {"optimizer.lr": "0.001", "model.hidden_sizes": "[8, 4]"}
    assert run.data.tags["team"] == "fraud"
    assert run.data.tags["db"] == "postgresql://u:***@h/x"
    assert run.data.tags["stage"] == "test"
    assert metric_steps(sqlite_store.client, logger.run_id, "train/loss_step") == list(range(1, 251))
    assert list_artifacts(sqlite_store.client, logger.run_id) == ["notes.txt"]
    assert logger.pending_path is None
    logger.finalize("FAILED")  # a second call changes nothing
    assert sqlite_store.client.get_run(logger.run_id).info.status == "FINISHED"


def test_resuming_keeps_logged_params_and_notes_the_changes(sqlite_store: Store, tmp_path: Path) -> None:
    first = make_logger(sqlite_store.uri)
    first.start(run_name="first", run_dir=tmp_path / "a")
    first.log_hyperparams({"a": 1, "b": 2})
    first.log_metrics({"loss": 0.5}, step=10)
    first.finalize("KILLED")
    assert sqlite_store.client.get_run(first.run_id).info.status == "KILLED"

    again = make_logger(sqlite_store.uri)
    again.start(run_name="second", run_dir=tmp_path / "b", resume_run_id=first.run_id)
    assert again.run_id == first.run_id
    assert sqlite_store.client.get_run(first.run_id).info.status == "RUNNING"
    again.log_hyperparams({"a": 1, "b": 3, "c": 4})
    again.log_metrics({"loss": 0.4}, step=20)
    again.finalize("FINISHED")

    run = sqlite_store.client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"a": "1", "b": "2", "c": "4"}
    assert run.data.tags["resumed.b"] == "3"
    assert "resumed.a" not in run.data.tags
    assert metric_steps(sqlite_store.client, run.info.run_id, "loss") == [10, 20]
    assert again.pending_path is None, "nothing was refused: no param change reached the store"


def test_a_failed_param_lookup_on_resume_keeps_the_params_for_the_next_try(
    sqlite_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On resume, params are checked against the run before they are sent; when that lookup
    fails (the store went away), the batch waits and is retried, never sent unchecked."""
    from mlflow.tracking import MlflowClient

    first = make_logger(sqlite_store.uri)
    first.start(run_name="first", run_dir=tmp_path / "a")
    first.log_hyperparams({"a": 1, "b": 2})
    first.finalize("KILLED")

    again = make_logger(sqlite_store.uri, close_timeout=30.0)
    again.start(run_name="second", run_dir=tmp_path / "b", resume_run_id=first.run_id)
    store_client = again._client
    again._client = MlflowClient(tracking_uri=f"http://127.0.0.1:{free_port()}")  # the store is away
    with caplog.at_level(logging.WARNING, logger="trainer"):
        again.log_hyperparams({"a": 1, "b": 3, "c": 4})
        again.persist()  # journaled; the writer's next try fails at the lookup
        deadline = time.monotonic() + 30
        while "Tracking store unreachable" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "Tracking store unreachable" in caplog.text
    again._client = store_client  # the store is back
    again.finalize("FINISHED")

    run = sqlite_store.client.get_run(first.run_id)
    assert run.data.params == {"a": "1", "b": "2", "c": "4"}
    assert run.data.tags["resumed.b"] == "3"
    assert again.pending_path is None, "the retry checked the params: none was refused"


def test_a_second_registration_under_one_name_adds_a_version(sqlite_store: Store, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    for attempt in ("one", "two"):
        logger = make_logger(sqlite_store.uri, registered_model_name="classifier")
        logger.start(run_name=attempt, run_dir=tmp_path / attempt)
        assert logger.log_model(model_dir) is not None
        logger.finalize("FINISHED")
    versions = sqlite_store.client.search_model_versions("name = 'classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2]


def test_a_failed_registration_keeps_the_uploaded_model(
    sqlite_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    logger = make_logger(sqlite_store.uri, registered_model_name="team/classifier")  # '/' is refused
    logger.start(run_name="model", run_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="trainer"):
        uri = logger.log_model(model_dir, step=3)
    logger.finalize("FINISHED")

    assert uri is not None and uri.startswith("models:/m-")
    assert "Could not register the model as 'team/classifier'" in caplog.text
    assert "Names cannot contain '/'" in caplog.text, "MLflow's own reason is in the warning"
    assert "Could not record model" not in caplog.text
    assert logger.pending_path is None, "the model was uploaded: nothing waits in the journal"
    run = sqlite_store.client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["model_uri"] == uri
    assert [o.model_id for o in run.outputs.model_outputs] == [uri.removeprefix("models:/")]
    assert sqlite_store.client.search_registered_models() == []


def test_an_unreachable_store_journals_everything_and_never_shows_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    uri = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
    logger = make_logger(uri, close_timeout=1.0, tags={"note": f"postgresql://u:{SECRET}@h/db"})
    (tmp_path / "config.yaml").write_text("seed: 1\n")
    with caplog.at_level(logging.DEBUG):
        logger.start(run_name="offline", run_dir=tmp_path)
        assert logger.run_id is None
        logger.log_hyperparams({"logger.tracking_uri": uri, "seed": 1})
        logger.set_tags({"device": "cpu"})
        for step in range(1, 1201):
            logger.log_metrics({"train/loss_step": 1.0 / step}, step=step)
        logger.log_artifact(tmp_path / "config.yaml")
        logger.finalize("FINISHED")

    assert logger.pending_path == tmp_path / JOURNAL_NAME
    journal = read_journal(logger.pending_path)
    assert journal.run_id is None
    assert journal.header["run_name"] == "offline"
    assert journal.header["run_tags"]["note"] == "postgresql://u:***@h/db", "configured tags wait too"
    assert journal.status is not None and journal.status["status"] == "FINISHED"
    waiting = journal.undelivered(prior_in_store=False)
    assert {r["key"]: r["value"] for r in waiting if r["kind"] == "param"} == {
        "logger.tracking_uri": uri.replace(SECRET, "***"),
        "seed": "1",
    }
    assert {r["key"]: r["value"] for r in waiting if r["kind"] == "tag"} == {"device": "cpu"}
    assert sorted(r["step"] for r in waiting if r["kind"] == "metric") == list(range(1, 1201))
    assert [r["path"] for r in waiting if r["kind"] == "artifact"] == [
        str((tmp_path / "config.yaml").resolve())
    ]
    assert logger.location_lines()[-1] == f"send them when the server is back: trainer upload {tmp_path}"

    assert "unreachable" in caplog.text  # the failures were reported ...
    printed = capfd.readouterr()
    for where, text in (("log", caplog.text), ("stdout", printed.out), ("stderr", printed.err)):
        assert SECRET not in text, where  # ... without the password
    assert SECRET not in logger.pending_path.read_text()


def test_a_resume_against_another_store_continues_in_a_new_run_with_the_whole_history(
    store_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The checkpoint's run is not in the configured store: one line says so, a new run there
    continues it (tagged resumed_from), and it gets the journal's history up to the checkpoint;
    the points after it come from the replay, once. Nothing is dropped or refused."""
    first_store, other_store = store_factory(tmp_path / "a"), store_factory(tmp_path / "b")
    first = make_logger(first_store.uri)
    first.start(run_name="first", run_dir=tmp_path / "run1")
    first.log_hyperparams({"lr": 0.1})
    for step in range(1, 9):  # the old process got to step 8; its checkpoint is at step 5
        first.log_metrics({"loss": 1.0 / step}, step=step)
    first.finalize("KILLED")
    ckpt = tmp_path / "run1" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"")

    again = make_logger(other_store.uri)
    with caplog.at_level(logging.WARNING, logger="trainer"):
        again.start(
            run_name="again",
            run_dir=tmp_path / "run2",
            resume_run_id=first.run_id,
            resume_step=5,
            resume_from=ckpt,
        )
        again.log_hyperparams({"lr": 0.1})
        for step in range(6, 11):  # the replay from step 5
            again.log_metrics({"loss": 1.0 / step}, step=step)
        again.finalize("FINISHED")

    assert f"Run {first.run_id} is not in the tracking store" in caplog.text
    assert "rejected" not in caplog.text and "dropped" not in caplog.text
    (run,) = other_store.runs()
    assert run.info.run_id != first.run_id
    assert run.data.tags["resumed_from"] == first.run_id
    assert run.data.params == {"lr": "0.1"}
    assert run.info.status == "FINISHED"
    history = other_store.client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(1, 11)), "every step once"
    assert again.pending_path is None
    assert read_journal(tmp_path / "run1" / JOURNAL_NAME).handed_over == str(tmp_path / "run2" / JOURNAL_NAME)


def test_the_status_goes_with_the_last_points_in_one_delivery(sqlite_store: Store, tmp_path: Path) -> None:
    """The end of a run is one send (one transaction on a SQL store): the journal marks the last
    points and the status delivered together, and the status is the last record."""
    logger = make_logger(sqlite_store.uri, flush_interval=60.0)  # nothing is sent before finalize
    logger.start(run_name="one", run_dir=tmp_path)
    for step in range(1, 11):
        logger.log_metrics({"loss": 1.0 / step}, step=step)
    logger.finalize("FINISHED")

    lines = [json.loads(line) for line in (tmp_path / JOURNAL_NAME).read_text().splitlines()]
    records = [line for line in lines if "seq" in line]
    assert [r["kind"] for r in records] == ["metric"] * 10 + ["status"]
    delivered = [line["seqs"] for line in lines if line["kind"] == "delivered"]
    assert delivered == [[[records[0]["seq"], records[-1]["seq"]]]]
    run = sqlite_store.client.get_run(logger.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time == records[-1]["end_time"]
    assert metric_steps(sqlite_store.client, logger.run_id, "loss") == list(range(1, 11))
