"""The spool file format, and ``upload_spool`` into a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.errors import UserError
from trainer.tracking.spool import SPOOL_NAME, Spool, SpoolHeader, read_spool, write_spool
from trainer.tracking.upload import upload_spool

from .conftest import EXPERIMENT, Store, free_port, list_artifacts, metric_steps


def make_spool(
    run_id: str | None, *, status: str | None = "FINISHED", artifacts: list | None = None
) -> Spool:
    return Spool(
        SpoolHeader("http://user:***@127.0.0.1:1", EXPERIMENT, "spooled-run", run_id),
        params=[{"key": f"group.p{i}", "value": str(i)} for i in range(130)],
        tags=[{"key": "device", "value": "cpu"}, {"key": "note", "value": "from the spool"}],
        metrics=[
            {"key": "train/loss_step", "value": 1.0 / s, "timestamp": 1_700_000_000_000 + s, "step": s}
            for s in range(1, 1201)
        ]
        + [{"key": "val/loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 1200}],
        artifacts=artifacts or [],
        status=status,
    )


def test_spool_round_trip_keeps_every_record_in_order(tmp_path: Path) -> None:
    spool = make_spool(None, artifacts=[{"path": "/x/config.yaml", "artifact_path": None}])
    path = write_spool(tmp_path / SPOOL_NAME, spool)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["kind"] == "header"
    assert lines[-1] == {"kind": "status", "status": "FINISHED"}
    assert len(lines) == 1 + len(spool) + 1
    assert read_spool(path) == spool


def test_read_spool_refuses_a_file_without_header(tmp_path: Path) -> None:
    path = tmp_path / SPOOL_NAME
    path.write_text(json.dumps({"kind": "metric", "key": "a", "value": 1, "timestamp": 0, "step": 0}) + "\n")
    with pytest.raises(ValueError, match="not a tracking spool"):
        read_spool(path)


def test_upload_creates_the_run_and_sends_everything(sqlite_store: Store, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "figures").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("seed: 42\n")
    (run_dir / "figures" / "a.png").write_bytes(b"\x89PNG fake")
    spool = make_spool(
        None,
        artifacts=[
            {"path": str(run_dir / "config.yaml"), "artifact_path": None},
            {"path": str(run_dir / "figures"), "artifact_path": "figures"},
            {"path": str(run_dir / "gone.txt"), "artifact_path": None},  # deleted since: skipped
        ],
    )
    write_spool(run_dir / SPOOL_NAME, spool)

    summary = upload_spool(run_dir, tracking_uri=sqlite_store.uri)

    client = sqlite_store.client
    (run,) = sqlite_store.runs()
    assert summary == {"run_id": run.info.run_id, "params": 130, "tags": 2, "metrics": 1201, "artifacts": 3}
    assert run.info.run_name == "spooled-run"
    assert run.info.status == "FINISHED"
    assert run.data.params == {f"group.p{i}": str(i) for i in range(130)}
    assert run.data.tags["note"] == "from the spool"
    assert metric_steps(client, run.info.run_id, "train/loss_step") == list(range(1, 1201))
    assert [m.value for m in client.get_metric_history(run.info.run_id, "val/loss")] == [0.5]
    assert sorted(list_artifacts(client, run.info.run_id)) == ["config.yaml", "figures/a.png"]
    assert not (run_dir / SPOOL_NAME).exists()
    assert (run_dir / SPOOL_NAME).with_suffix(".uploaded").is_file()


def test_upload_continues_the_run_the_spool_names(sqlite_store: Store, tmp_path: Path) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id, run_name="started").info.run_id
    client.log_metric(run_id, "train/loss_step", 1.0, timestamp=1_700_000_000_001, step=1)  # sent live
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_spool(run_dir / SPOOL_NAME, make_spool(run_id, status="KILLED"))

    upload_spool(run_dir, tracking_uri=sqlite_store.uri)

    assert len(sqlite_store.runs()) == 1
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    # The point sent live and again from the spool is kept once.
    assert metric_steps(client, run_id, "train/loss_step") == list(range(1, 1201))


def test_upload_without_spool_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nothing is waiting"):
        upload_spool(tmp_path, tracking_uri="sqlite:///unused.db")


def test_upload_to_an_unreachable_server_keeps_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    write_spool(tmp_path / SPOOL_NAME, make_spool(None))
    uri = f"http://user:s3cr3t@127.0.0.1:{free_port()}"
    with pytest.raises(UserError, match="the spool is kept") as caught:
        upload_spool(tmp_path, tracking_uri=uri)
    assert "s3cr3t" not in str(caught.value)
    assert (tmp_path / SPOOL_NAME).is_file()
