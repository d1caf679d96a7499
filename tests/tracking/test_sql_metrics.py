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
from trainer.tracking.mlflow_logger import is_permanent_error

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
