"""The journal file format, and ``upload_journal`` into a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trainer.errors import UserError
from trainer.tracking.journal import JOURNAL_NAME, Journal, encode_line, read_journal
from trainer.tracking.upload import upload_journal

from .conftest import EXPERIMENT, Store, free_port, list_artifacts, metric_steps

START = 1_700_000_000_000
ODD_FLOATS = [float("nan"), float("inf"), -float("inf"), np.float64(0.25), np.float32(0.1)]


def header(run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "tracking_uri": "http://user:***@127.0.0.1:1",
        "experiment_name": EXPERIMENT,
        "run_name": "journaled-run",
        "run_id": run_id,
        "start_time": START,
        "run_tags": {"team": "fraud"},
        **extra,
    }


def records(
    *, status: str | None = "FINISHED", artifacts: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"kind": "param", "key": f"group.p{i}", "value": str(i)} for i in range(130)]
    out += [
        {"kind": "tag", "key": "device", "value": "cpu"},
        {"kind": "tag", "key": "note", "value": "journal"},
    ]
    out += [
        {"kind": "metric", "key": "train/loss_step", "value": 1.0 / s, "timestamp": START + s, "step": s}
        for s in range(1, 1201)
    ]
    out.append({"kind": "metric", "key": "val/loss", "value": 0.5, "timestamp": START + 2000, "step": 1200})
    out += artifacts or []
    if status:
        out.append({"kind": "status", "status": status, "end_time": START + 5000})
    return out


def write_journal(folder: Path, head: dict[str, Any], recs: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    journal = Journal(folder / JOURNAL_NAME, head)
    journal.append(recs)
    journal.close()
    return folder / JOURNAL_NAME


def test_journal_round_trip_marks_and_a_torn_last_line(tmp_path: Path) -> None:
    path = write_journal(tmp_path, header(), records())
    journal = Journal(path)  # reopened: sequence numbers go on
    journal.mark("delivered", range(1, 101))
    journal.append([more := {"kind": "tag", "key": "later", "value": "x"}])
    journal.close()
    with open(path, "a") as f:
        f.write('{"kind": "metric", "key": "torn')  # a kill in the middle of a write
    state = read_journal(path)
    assert state.header["run_name"] == "journaled-run"
    assert len(state.records) == len(records()) + 1
    assert more["seq"] == len(records()) + 1
    assert state.status == {
        "kind": "status",
        "status": "FINISHED",
        "end_time": START + 5000,
        "seq": len(records()),
    }
    assert len(state.undelivered(prior_in_store=False)) == len(records()) + 1 - 100
    assert json.loads(path.read_text().splitlines()[0])["kind"] == "header"


@pytest.mark.parametrize("key", ["train/loss_step", "caf\u00e9", 'q"uote\\back\tslash', "emoji \U0001f600"])
@pytest.mark.parametrize("value", [0.0, -0.0, 1e-320, 1.7976931348623157e308, 1 / 3, -2.5e-7, *ODD_FLOATS])
def test_a_metric_line_is_the_bytes_json_dumps_writes(key: str, value: float) -> None:
    """Metric points skip the JSON encoder (encode_line): the file must not change for it."""
    for step, stamp in ((0, START), (-1, 0), (2**63, START + 1)):
        point = {"kind": "metric", "key": key, "value": value, "timestamp": stamp, "step": step, "seq": 7}
        assert encode_line(point) == json.dumps(point, default=str)
    carried = {"kind": "metric", "key": key, "value": value, "timestamp": START, "step": 1, "carried": True}
    assert encode_line(carried) == json.dumps(carried, default=str)


def test_read_journal_refuses_a_file_without_header(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_text(
        json.dumps({"kind": "metric", "seq": 1, "key": "a", "value": 1, "timestamp": 0, "step": 0}) + "\n"
    )
    with pytest.raises(ValueError, match="not a tracking journal"):
        read_journal(path)


def test_upload_creates_the_run_with_its_original_times_and_sends_everything(
    sqlite_store: Store, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "figures").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("seed: 42\n")
    (run_dir / "figures" / "a.png").write_bytes(b"\x89PNG fake")
    artifacts = [
        {"kind": "artifact", "path": str(run_dir / "config.yaml"), "artifact_path": None},
        {"kind": "artifact", "path": str(run_dir / "figures"), "artifact_path": "figures"},
        {"kind": "artifact", "path": str(run_dir / "gone.txt"), "artifact_path": None},  # deleted since
    ]
    write_journal(run_dir, header(), records(artifacts=artifacts))

    summary = upload_journal(run_dir, tracking_uri=sqlite_store.uri)

    client = sqlite_store.client
    (run,) = sqlite_store.runs()
    assert summary["run_id"] == run.info.run_id
    assert (summary["params"], summary["tags"], summary["metrics"], summary["status"]) == (
        130,
        2,
        1201,
        "FINISHED",
    )
    assert run.info.run_name == "journaled-run"
    assert run.info.status == "FINISHED"
    assert (run.info.start_time, run.info.end_time) == (START, START + 5000), "the run's own times"
    assert run.data.params == {f"group.p{i}": str(i) for i in range(130)}
    assert run.data.tags["note"] == "journal"
    assert run.data.tags["team"] == "fraud"
    assert metric_steps(client, run.info.run_id, "train/loss_step") == list(range(1, 1201))
    history = client.get_metric_history(run.info.run_id, "train/loss_step")
    assert sorted(m.timestamp for m in history) == [START + s for s in range(1, 1201)], "original timestamps"
    assert sorted(list_artifacts(client, run.info.run_id)) == ["config.yaml", "figures/a.png"]
    # Everything is marked delivered: a second upload sends nothing.
    assert read_journal(run_dir / JOURNAL_NAME).undelivered(prior_in_store=True) == []
    with pytest.raises(UserError, match="nothing is waiting"):
        upload_journal(run_dir, tracking_uri=sqlite_store.uri)


def test_upload_of_a_killed_run_continues_it_and_marks_it_killed(sqlite_store: Store, tmp_path: Path) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id, run_name="started", start_time=START).info.run_id
    client.log_metric(run_id, "train/loss_step", 1.0, timestamp=START + 1, step=1)  # sent live ...
    run_dir = tmp_path / "run"
    path = write_journal(run_dir, header(run_id), records(status=None))  # ... and the process died
    journal = Journal(path)
    journal.mark("run", run_id=run_id, resumed_from=None)
    journal.close()

    summary = upload_journal(run_dir, tracking_uri=sqlite_store.uri)

    assert len(sqlite_store.runs()) == 1
    run = client.get_run(run_id)
    assert summary["status"] == "KILLED"
    assert run.info.status == "KILLED"
    assert run.info.end_time == START + 2000, "closed when it was last heard of"
    # The point sent live and again from the journal is kept once.
    assert metric_steps(client, run_id, "train/loss_step") == list(range(1, 1201))


def test_upload_records_datasets_and_the_model_like_a_live_run(sqlite_store: Store, tmp_path: Path) -> None:
    model_dir = tmp_path / "run" / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    dataset = {
        "name": "table-train",
        "digest": "abc123",
        "source_type": "code",
        "source": '{"tags": {"source": "t.csv"}}',
        "schema": None,
        "profile": '{"num_rows": 3}',
        "tags": {"mlflow.data.context": "train"},
    }
    extra = [
        {"kind": "dataset", "datasets": [dataset]},
        {"kind": "model", "path": str(model_dir), "name": "model", "step": 1200},
    ]
    write_journal(
        tmp_path / "run", header(registered_model_name="classifier"), records()[:-1] + extra + records()[-1:]
    )

    upload_journal(tmp_path / "run", tracking_uri=sqlite_store.uri)

    client = sqlite_store.client
    (run,) = sqlite_store.runs()
    (entry,) = run.inputs.dataset_inputs
    assert (entry.dataset.name, entry.dataset.digest) == ("table-train", "abc123")
    assert [(t.key, t.value) for t in entry.tags] == [("mlflow.data.context", "train")]
    (output,) = run.outputs.model_outputs
    assert run.data.tags["model_uri"] == f"models:/{output.model_id}"
    assert output.step == 1200
    (version,) = client.search_model_versions("name='classifier'")
    assert version.run_id == run.info.run_id


def test_upload_without_journal_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nothing is waiting"):
        upload_journal(tmp_path, tracking_uri="sqlite:///unused.db")


def test_upload_refuses_a_run_that_is_still_going(tmp_path: Path) -> None:
    path = write_journal(tmp_path, header(), records(status=None))
    live = Journal(path)  # what a running process holds
    try:
        with pytest.raises(UserError, match="still going"):
            upload_journal(tmp_path, tracking_uri="sqlite:///unused.db")
    finally:
        live.close()


def test_upload_to_an_unreachable_server_keeps_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    write_journal(tmp_path, header(), records())
    uri = f"http://user:s3cr3t@127.0.0.1:{free_port()}"
    with pytest.raises(UserError, match="the journal is kept") as caught:
        upload_journal(tmp_path, tracking_uri=uri)
    assert "s3cr3t" not in str(caught.value)
    assert len(read_journal(tmp_path / JOURNAL_NAME).undelivered(prior_in_store=False)) == len(records())
