"""A PostgreSQL tracking store, decided in one quick question to the real server on 127.0.0.1:
a login it refuses or a database it lacks is one line before anything is made; a server that does
not answer keeps the run's records for ``trainer upload``, as an http server that is down does.

Skipped where no PostgreSQL answers (user postgres, trust auth, as CI and the compose stack run it).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import pytest

from trainer.cli import main
from trainer.errors import ConfigError
from trainer.tracking import MLflowLogger
from trainer.tracking.database_probe import StoreUnreachable
from trainer.tracking.journal import read_journal
from trainer.tracking.store_check import check_tracking_store
from trainer.tracking.store_lock import make_client

SERVER = os.environ.get("TRAINER_TEST_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")
HOST = SERVER.rsplit("@", 1)[1]  # 127.0.0.1:5432
CLOSED_PORT = "postgresql://postgres:s3cr3t@127.0.0.1:1/test"  # nothing listens on port 1


@pytest.fixture(scope="module", autouse=True)
def _server() -> None:
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]'")
    try:
        psycopg.connect(f"{SERVER}/postgres", connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL is not reachable at {SERVER} (user postgres, trust auth): {exc}")


def _refusal(uri: str) -> str:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        check_tracking_store(uri)
    assert time.monotonic() - started < 10, "decided in one question, not MLflow's two minutes of retries"
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_role_that_does_not_exist_is_refused_in_one_line() -> None:
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    uri = f"postgresql://{role}:hunter2@{HOST}/postgres"
    message = _refusal(uri)
    assert message.startswith(f"logger.tracking_uri='postgresql://{role}:***@{HOST}/postgres' was refused by")
    assert f'role "{role}" does not exist' in message
    assert "fix the user and password in the URI" in message
    assert "hunter2" not in message


def test_a_missing_database_is_named_with_the_command_that_makes_it() -> None:
    name = f"nope_{uuid.uuid4().hex[:8]}"
    message = _refusal(f"{SERVER}/{name}")
    host, port = HOST.split(":")
    assert f"names the database {name!r}, which the server at {HOST} does not have" in message
    assert f"createdb -h {host} -p {port} -U <admin> {name}" in message


def test_a_server_that_takes_the_login_passes() -> None:
    assert check_tracking_store(f"{SERVER}/postgres") is None


def test_a_closed_port_is_away_not_wrong() -> None:
    reason = check_tracking_store(CLOSED_PORT)
    assert reason is not None and "Connection refused" in reason
    with pytest.raises(StoreUnreachable, match="does not answer"):
        make_client(CLOSED_PORT)  # at once, instead of MLflow's retries


def test_a_refused_login_stops_trainer_train_before_any_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"postgresql://nobody_{uuid.uuid4().hex[:8]}@{HOST}/postgres"
    status = main(["train", f"logger.tracking_uri={uri}", f"paths.runs_dir={tmp_path / 'runs'}"])
    err = capsys.readouterr().err
    assert status == 2
    assert [line for line in err.splitlines() if line.strip()] == [err.strip()], err
    assert err.startswith(f"error: logger.tracking_uri='{uri}' was refused by")
    assert not (tmp_path / "runs").exists(), "no run folder, not even an empty runs/"


def test_a_store_that_is_down_keeps_the_records_for_upload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    logger = MLflowLogger(
        tracking_uri=CLOSED_PORT, flush_interval=0.05, close_timeout=1.0, request_timeout=2.0
    )
    with caplog.at_level(logging.WARNING, logger="trainer"):
        logger.start(run_name="offline", run_dir=tmp_path)
        logger.log_hyperparams({"seed": 1})
        logger.log_metrics({"train/loss": 0.5}, step=1)
        logger.finalize("FINISHED")
    assert time.monotonic() - started < 20
    assert "is unreachable" in caplog.text and "s3cr3t" not in caplog.text
    assert logger.pending_path is not None
    waiting = read_journal(logger.pending_path).undelivered(prior_in_store=False)
    assert sorted(r["kind"] for r in waiting) == ["metric", "param", "status"]
    assert logger.location_lines()[-1] == f"send them when the server is back: trainer upload {tmp_path}"
