"""A tracking store that can never work stops with one line; one that is merely down passes.

Real files, folders and imports throughout. Two cases cannot be shown honestly as root
(this CI's user): root writes through permission bits, so the "folder not writable" test
runs only as another user; a read-only mount is not available to tests here.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from trainer.errors import ConfigError
from trainer.tracking.store_check import check_tracking_uri


def _error(uri: str) -> str:
    with pytest.raises(ConfigError) as info:
        check_tracking_uri(uri)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith("logger.tracking_uri=")
    return message


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("sqlit:///x.db", "did you mean 'sqlite'?"),
        ("htp://host:5000", "did you mean 'http'?"),
        ("postgres://u@h/db", "did you mean 'postgresql'?"),
        ("://", "has no scheme"),
        ("ftp://host/x", "unknown scheme 'ftp'"),
    ],
)
def test_a_malformed_uri_names_the_value_and_the_schemes_that_work(uri: str, hint: str) -> None:
    message = _error(uri)
    assert repr(uri) in message and hint in message
    assert "sqlite:///mlflow.db" in message and "http://host:5000" in message


def test_a_server_uri_without_a_host_is_malformed() -> None:
    assert "has no host" in _error("http://")


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:9",  # nothing listens there: down is not an error, the logger spools
        "https://mlflow.example.invalid",
        "databricks",
        "databricks://profile",
    ],
)
def test_servers_that_may_be_down_and_other_stores_pass(uri: str) -> None:
    check_tracking_uri(uri)


@pytest.mark.parametrize("uri", ["file:///tmp/never/made/mlruns", "mlruns"])
def test_a_folder_store_is_refused_unless_mlflow_is_told_to_open_it(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    message = _error(uri)
    assert "is a folder store, which MLflow 3 no longer opens" in message
    assert "use sqlite:///mlflow.db" in message and "MLFLOW_ALLOW_FILE_STORE=true" in message
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    check_tracking_uri(uri)  # a folder that can be made (MLflow makes it)


def test_a_password_in_the_uri_is_masked(tmp_path: Path) -> None:
    message = _error("sqlit://user:hunter2@host/db")
    assert "hunter2" not in message and "user:***@" in message


def test_a_sqlite_path_that_can_be_created_passes(tmp_path: Path) -> None:
    check_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")


def test_an_existing_sqlite_database_passes(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    sqlite3.connect(path).execute("create table t (x)").connection.close()
    check_tracking_uri(f"sqlite:///{path}")


def test_a_relative_sqlite_path_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    check_tracking_uri("sqlite:///mlflow.db")
    assert "does not exist" in _error("sqlite:///sub/mlflow.db")


def test_a_sqlite_path_under_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    message = _error(f"sqlite:///{blocker}/deeper/mlflow.db")
    assert f"lies under {str(blocker)!r}, which is a file" in message


def test_a_sqlite_path_in_a_missing_folder_says_how_to_make_it(tmp_path: Path) -> None:
    message = _error(f"sqlite:///{tmp_path}/nope/mlflow.db")
    assert "does not exist" in message and f"mkdir -p {tmp_path}/nope" in message


def test_a_sqlite_path_that_is_a_folder_or_another_file(tmp_path: Path) -> None:
    assert "is a folder" in _error(f"sqlite:///{tmp_path}")
    text = tmp_path / "data.csv"
    text.write_text("a,b\n1,2\n")
    assert "not a SQLite database" in _error(f"sqlite:///{text}")


def test_sqlite_in_memory_is_refused_because_every_run_would_be_lost() -> None:
    assert "names no file" in _error("sqlite://")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits: cannot be shown as root")
def test_a_sqlite_path_in_an_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert "is not writable" in _error(f"sqlite:///{folder}/mlflow.db")
    finally:
        folder.chmod(0o700)


def test_mysql_without_its_driver_names_the_package() -> None:
    if importlib.util.find_spec("MySQLdb"):
        pytest.skip("mysqlclient is installed here")
    message = _error("mysql://user:secret@db.example/mlflow")
    assert "needs the Python driver 'MySQLdb'" in message and "pip install 'mysqlclient'" in message
    assert "secret" not in message


def test_postgresql_without_its_driver_names_the_package_and_the_project_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes that import fail, as it does where the package is absent.
    for module in ("psycopg", "psycopg2", "pg8000"):
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    message = _error("postgresql://user:secret@db.example/mlflow")
    assert "pip install" in message and "pip install -e '.[postgres]'" in message
    assert "psycopg" in message and "secret" not in message


def test_postgresql_names_an_installed_alternative_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    default = make_url("postgresql://h/db").get_dialect().driver  # psycopg from SQLAlchemy 2.1
    if (
        default != "psycopg"
        or importlib.util.find_spec("psycopg")
        or not importlib.util.find_spec("psycopg2")
    ):
        pytest.skip("needs SQLAlchemy's default psycopg absent and psycopg2 installed")
    message = _error("postgresql://user:secret@db.example/mlflow")
    assert "pip install 'psycopg[binary]'" in message
    assert "or use the installed psycopg2: postgresql+psycopg2://user:***@db.example/mlflow" in message
    check_tracking_uri("postgresql+psycopg2://user:secret@db.example/mlflow")  # contacts nothing
