"""Metric points written straight into an MLflow SQL store: the rows ``log_batch`` writes, for less CPU.

Why: MLflow's ``SqlAlchemyStore.log_batch`` builds one ORM object per point, validates each point
twice and flushes through SQLAlchemy's unit of work: about 70 us of CPU per point on the writer
thread (measured with cProfile; see ``experiments/performance/README.md``). At one point per step
that CPU is taken from the training thread (the GIL, two cores), and at the end of a run the
user waits for the last interval's points to be written. Here the same rows go in with one
executemany of plain tuples in one transaction: about 5 us per point.

What stays MLflow's: the session (``ManagedSessionMaker``: the same connection settings, the
same error codes for a locked or broken store), the run lookup and its ``active`` check, the
metric-name validation (``_validate_metric``, once per distinct key), the NaN/Inf encoding
(``sanitize_metric_value``) and the ``latest_metrics`` update
(``_update_latest_metrics_if_necessary``, given the newest point of each key). What is ours: the
insert, ``INSERT ... ON CONFLICT DO NOTHING`` on the metrics table's primary key, which keeps
MLflow's rule that an exact duplicate point (same key, step, timestamp and value) is ignored, so
a resent batch still stores each point once.

Only SQLite and PostgreSQL stores take this path (the dialects with ``ON CONFLICT DO NOTHING``);
any other store (an HTTP server, MySQL, MSSQL) gets ``MlflowClient.log_batch`` as before. The
private store methods used here are pinned by the ``mlflow<3.18`` requirement and by
``tests/tracking/test_sql_metrics.py``, which compares this path's rows with MLflow's own.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

Record = dict[str, Any]
#: Dialects whose INSERT has ``on_conflict_do_nothing`` in SQLAlchemy.
FAST_DIALECTS = ("sqlite", "postgresql")
_valid_keys: set[str] = set()  # metric names MLflow's validation accepted (a pure check of the name)
_MAX_CACHED_KEYS = 10_000


def sql_store(client: Any) -> Any | None:
    """The ``SqlAlchemyStore`` behind ``client`` when its database takes the fast path, else None."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if not isinstance(store, SqlAlchemyStore):
        return None
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name not in FAST_DIALECTS:
        return None
    return store


def _insert_ignoring_duplicates(store: Any) -> Any:
    """``INSERT INTO metrics ... ON CONFLICT DO NOTHING`` for the store's dialect."""
    from mlflow.store.tracking.dbmodels.models import SqlMetric
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(SqlMetric.__table__).on_conflict_do_nothing()


def _check_point(key: str, value: float, timestamp: int, step: int) -> None:
    """MLflow's own validation, run in full for a key not seen yet or a negative timestamp."""
    if key in _valid_keys and timestamp >= 0:
        return
    from mlflow.utils.validation import _validate_metric

    _validate_metric(key, value, timestamp, step)  # raises INVALID_PARAMETER_VALUE
    if len(_valid_keys) < _MAX_CACHED_KEYS:
        _valid_keys.add(key)


def insert_metrics(store: Any, run_id: str, records: list[Record]) -> None:
    """Store metric records (``key``, ``value``, ``timestamp``, ``step``) in ``run_id``, in one transaction.

    Args:
        store: a ``SqlAlchemyStore`` from :func:`sql_store`.
        run_id: an active run of that store.
        records: metric records as the journal holds them (other keys are ignored).

    Raises:
        MlflowException: with MLflow's error code: the run is missing or not active, a metric
            name is invalid (INVALID_PARAMETER_VALUE), the database is locked or down
            (TEMPORARILY_UNAVAILABLE).
    """
    rows: list[dict[str, Any]] = []
    newest: dict[str, dict[str, Any]] = {}
    for record in records:
        key, value = record["key"], float(record["value"])
        timestamp, step = int(record["timestamp"]), int(record["step"])
        _check_point(key, value, timestamp, step)
        is_nan = math.isnan(value)
        if is_nan or math.isinf(value):
            is_nan, value = store.sanitize_metric_value(value)
        row = {
            "key": key,
            "value": value,
            "timestamp": timestamp,
            "step": step,
            "is_nan": is_nan,
            "run_uuid": run_id,
        }
        rows.append(row)
        best = newest.get(key)
        # MLflow's order for the latest value: (step, timestamp, value), strictly greater wins.
        if best is None or (step, timestamp, value) > (best["step"], best["timestamp"], best["value"]):
            newest[key] = row
    if not rows:
        return
    statement = _insert_ignoring_duplicates(store)
    with store.ManagedSessionMaker(read_only=False) as session:
        run = store._get_run(run_uuid=run_id, session=session)
        store._check_run_is_active(run)
        session.execute(statement, rows)
        # Only the newest point of each key can change latest_metrics: MLflow's own update,
        # given one point per key instead of one ORM object per point.
        store._update_latest_metrics_if_necessary(
            [SimpleNamespace(**row) for row in newest.values()], session
        )
