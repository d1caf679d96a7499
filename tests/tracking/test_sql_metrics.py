"""The fast metric path (``tracking/sql_metrics.py``) stores exactly what MLflow's own ``log_batch`` does.

Two runs of one real SQLite store get the same points, one through ``MlflowClient.log_batch``
(MLflow's ORM path), the other through ``delivery.log_batch`` (the fast path); their histories,
latest values and NaN/Inf encodings must be equal, duplicates must be ignored the same way, and a
refused point or a deleted run must raise MLflow's own error codes (which the writer reads to
tell a refusal from an outage).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from trainer.tracking import sql_metrics
from trainer.tracking.delivery import log_batch
from trainer.tracking.store_errors import is_permanent_error

from .conftest import Store

STAMP = 1_700_000_000_000


def points() -> list[dict[str, Any]]:
    """Out-of-order steps, equal steps with later timestamps, NaN, +-Inf, an exact duplicate."""
    values = [
        ("loss", 0.5, STAMP, 1),
        ("loss", 0.25, STAMP + 5, 3),
        ("loss", 0.75, STAMP + 1, 2),
        ("loss", 0.2, STAMP + 9, 3),  # same step, later: the newest
        ("loss", 0.2, STAMP + 9, 3),  # an exact duplicate: stored once
        ("acc", math.nan, STAMP, 1),
        ("acc", math.inf, STAMP, 2),
        ("grad", -math.inf, STAMP, 7),
        ("grad", 3.0, STAMP, 6),
    ]
    return [
        {"kind": "metric", "key": k, "value": v, "timestamp": t, "step": s, "seq": i}
        for i, (k, v, t, s) in enumerate(values, start=1)
    ]


def history(client: Any, run_id: str) -> dict[str, list[tuple[int, int, float]]]:
    run = client.get_run(run_id)
    return {
        key: sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))
        for key in run.data.metrics
    }


def latest(client: Any, run_id: str) -> dict[str, float]:
    return dict(client.get_run(run_id).data.metrics)


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return repr(a) == repr(b)  # nan == nan as text


def mlflow_log(client: Any, run_id: str, records: list[dict[str, Any]]) -> None:
    metrics = [Metric(r["key"], float(r["value"]), int(r["timestamp"]), int(r["step"])) for r in records]
    client.log_batch(run_id, metrics=metrics, synchronous=True)


def test_a_sqlite_store_takes_the_fast_path(sqlite_store: Store) -> None:
    assert sql_metrics.sql_store(sqlite_store.client) is not None


def test_the_fast_path_stores_what_mlflow_stores(sqlite_store: Store) -> None:
    client = sqlite_store.client
    reference = client.create_run(sqlite_store.experiment_id).info.run_id
    fast = client.create_run(sqlite_store.experiment_id).info.run_id
    first, second = points()[:5], points()[5:]
    for batch in (first, second, first):  # the third is a resend: nothing new
        mlflow_log(client, reference, batch)
        log_batch(client, fast, batch)
    assert same(history(client, fast), history(client, reference))
    assert same(latest(client, fast), latest(client, reference))
    assert latest(client, fast)["loss"] == 0.2
    assert len(history(client, fast)["loss"]) == 4


def test_a_batch_longer_than_one_sqlite_statement_stores_every_point_once(sqlite_store: Store) -> None:
    """SQLite gets the rows in statements of SQLITE_ROWS_PER_INSERT: a batch over several of them,
    then a resend that straddles two, store what MLflow stores."""
    from mlflow.store.tracking.dbmodels.models import SqlMetric

    assert set(sql_metrics.COLUMNS) == set(SqlMetric.__table__.columns.keys())
    client = sqlite_store.client
    reference = client.create_run(sqlite_store.experiment_id).info.run_id
    fast = client.create_run(sqlite_store.experiment_id).info.run_id
    many = [
        {"kind": "metric", "key": f"k{i % 3}", "value": i / 7, "timestamp": STAMP + i, "step": i}
        for i in range(2 * sql_metrics.SQLITE_ROWS_PER_INSERT + 5)
    ]
    for batch in (many, many[100:300]):
        mlflow_log(client, reference, batch)
        log_batch(client, fast, batch)
    assert same(history(client, fast), history(client, reference))
    assert same(latest(client, fast), latest(client, reference))
    assert sum(len(points) for points in history(client, fast).values()) == len(many)


def test_an_older_point_does_not_replace_the_latest_value(sqlite_store: Store) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    log_batch(client, run_id, [{"kind": "metric", "key": "m", "value": 9.0, "timestamp": STAMP, "step": 10}])
    log_batch(client, run_id, [{"kind": "metric", "key": "m", "value": 1.0, "timestamp": STAMP, "step": 4}])
    assert latest(client, run_id) == {"m": 9.0}
    assert [p[0] for p in history(client, run_id)["m"]] == [4, 10]


def test_params_and_tags_still_arrive_beside_the_metrics(sqlite_store: Store) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    records = [
        {"kind": "param", "key": "lr", "value": "0.1"},
        {"kind": "tag", "key": "note", "value": "x"},
        *points()[:2],
    ]
    log_batch(client, run_id, records)
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["note"] == "x"
    assert run.data.metrics == {"loss": 0.25}


@pytest.mark.parametrize("key", ["bad key?", "x" * 251])
def test_an_invalid_name_is_refused_as_mlflow_refuses_it(sqlite_store: Store, key: str) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    record = {"kind": "metric", "key": key, "value": 1.0, "timestamp": STAMP, "step": 1}
    with pytest.raises(MlflowException) as fast:
        log_batch(client, run_id, [record])
    with pytest.raises(MlflowException) as reference:
        mlflow_log(client, run_id, [record])
    assert fast.value.error_code == reference.value.error_code
    assert is_permanent_error(fast.value)
    assert history(client, run_id) == {}


def test_a_deleted_or_missing_run_is_a_permanent_error(sqlite_store: Store) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as deleted:
        log_batch(client, run_id, points()[:1])
    assert is_permanent_error(deleted.value)
    with pytest.raises(MlflowException) as missing:
        log_batch(client, "0" * 32, points()[:1])
    assert is_permanent_error(missing.value)


def test_the_last_delivery_closes_the_run_as_set_terminated_does(sqlite_store: Store) -> None:
    """A status record at the end of a batch sets the run's status and end time in the same
    transaction as the points: what ``MlflowClient.set_terminated`` would have set."""
    client = sqlite_store.client
    reference = client.create_run(sqlite_store.experiment_id).info.run_id
    fast = client.create_run(sqlite_store.experiment_id).info.run_id
    status = {"kind": "status", "status": "KILLED", "end_time": STAMP + 60_000, "seq": 99}
    mlflow_log(client, reference, points())
    client.set_terminated(reference, status="KILLED", end_time=STAMP + 60_000)
    log_batch(client, fast, [*points(), status])
    for run_id in (reference, fast):
        info = client.get_run(run_id).info
        assert (info.status, info.end_time) == ("KILLED", STAMP + 60_000)
    assert same(history(client, fast), history(client, reference))


def test_a_refused_last_delivery_leaves_the_run_open_and_without_its_points(sqlite_store: Store) -> None:
    """One transaction: when a point is refused, the status is not set either, so the writer can
    split the batch and close the run after the points it can store."""
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    bad = {"kind": "metric", "key": "bad key?", "value": 1.0, "timestamp": STAMP, "step": 1}
    with pytest.raises(MlflowException) as refused:
        log_batch(client, run_id, [*points()[:2], bad, {"kind": "status", "status": "FINISHED"}])
    assert is_permanent_error(refused.value)
    assert client.get_run(run_id).info.status == "RUNNING"
    assert history(client, run_id) == {}
    log_batch(client, run_id, [{"kind": "status", "status": "FINISHED"}])  # a status alone
    info = client.get_run(run_id).info
    assert info.status == "FINISHED" and info.end_time is not None


def test_a_status_record_must_come_last(sqlite_store: Store) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    with pytest.raises(ValueError, match="must come last"):
        log_batch(client, run_id, [{"kind": "status", "status": "FINISHED"}, *points()[:1]])
