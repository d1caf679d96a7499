"""A fresh SQLite store copied from the cached migrated one equals one MLflow migrates itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from trainer.tracking.mlflow_private import dispose_engine
from trainer.tracking.store_lock import make_client
from trainer.tracking.store_template import template_path


def _schema(path: Path) -> list[tuple[str, list[str]]]:
    """Every table's and index's definition, its clauses sorted: MLflow's own migrations order a
    table's constraints differently from one run to the next (two migrated stores differ so)."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        schema = [
            (str(name), sorted(line.strip().rstrip(",") for line in str(sql).splitlines()))
            for name, sql in rows
        ]
        version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return [*schema, ("alembic_version", [str(version)])]


def test_the_first_fresh_store_is_kept_and_the_next_is_a_copy_equal_to_a_migrated_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINER_CACHE_DIR", str(tmp_path / "cache"))
    first = tmp_path / "a" / "mlflow.db"
    first.parent.mkdir()
    dispose_engine(make_client(f"sqlite:///{first}"))
    assert template_path().is_file()

    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    copied = elsewhere / "mlflow.db"
    client = make_client(f"sqlite:///{copied}")
    # The Default experiment's folder is this one's, as MLflow sets it for a store made here.
    assert client.get_experiment("0").artifact_location == f"{elsewhere}/mlruns/0"
    experiment = client.create_experiment("e")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "m", 1.0)
    dispose_engine(client)

    migrated = tmp_path / "c" / "mlflow.db"
    migrated.parent.mkdir()
    dispose_engine(MlflowClient(tracking_uri=f"sqlite:///{migrated}"))
    assert _schema(copied) == _schema(migrated)


def test_a_cache_that_cannot_be_written_still_gives_a_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TRAINER_CACHE_DIR", str(blocker / "cache"))
    client = make_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.search_experiments()
    dispose_engine(client)
