"""Metric points written straight into an MLflow SQL store: the rows ``log_batch`` writes, for less CPU.

Why: MLflow's ``SqlAlchemyStore.log_batch`` builds one ORM object per point, validates each point
twice and flushes through SQLAlchemy's unit of work: about 70 us of CPU per point on the writer
thread (measured with cProfile; see ``experiments/performance/README.md``). At one point per step
that CPU is taken from the training thread (the GIL, two cores), and at the end of a run the
user waits for the last interval's points to be written. Here the same rows go in as plain
tuples, in one transaction: 5-10 us of CPU per point, most of it SQLite's own. On SQLite they go
166 rows to a statement (``INSERT ... VALUES (...), (...), ...``) rather than one statement per
row: Python's ``sqlite3`` releases the GIL while each statement runs, so per row the writer took
the GIL back from the training thread 2,600 times a run; per 166 rows, SQLite's own work runs
beside the training (the benchmark's writer CPU fell from 0.060 to 0.038 s a run, the training
thread's wait for the GIL from about 0.07 to 0.05 s).

What stays MLflow's: the session (``ManagedSessionMaker``: the same connection settings, the
same error codes for a locked or broken store), the run lookup and its ``active`` check, the
metric-name validation (``_validate_metric``, once per distinct key), the NaN/Inf encoding
(``sanitize_metric_value``) and the ``latest_metrics`` update
(``_update_latest_metrics_if_necessary``, given the newest point of each key). What is ours: the
insert, ``INSERT ... ON CONFLICT DO NOTHING`` on the metrics table's primary key, which keeps
MLflow's rule that an exact duplicate point (same key, step, timestamp and value) is ignored, so
a resent batch still stores each point once.

The last delivery of a run can also close it (``status``): the run's status and end time are set
in the same transaction as its last points, as ``MlflowClient.set_terminated`` sets them. Each
commit of a SQLite store waits for the disk (fsyncs: 3 ms on the benchmark's idle machine, 20-25
ms while other jobs use its disk), and
the user waits for the end of a run, so one commit there instead of two is a saving every run
makes; that the points and the status arrive together, or neither does, keeps the rule that an
upload never finds a closed run missing points.

Only SQLite and PostgreSQL stores take this path (the dialects with ``ON CONFLICT DO NOTHING``);
any other store (an HTTP server, MySQL, MSSQL) gets ``MlflowClient.log_batch`` as before. The
private store methods used here are reached through :mod:`trainer.tracking.mlflow_private` only,
pinned by the ``mlflow<3.18`` requirement and checked by ``tests/tracking/test_mlflow_private.py``;
``tests/tracking/test_sql_metrics.py`` compares this path's rows with MLflow's own.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from types import SimpleNamespace
from typing import Any

from trainer.tracking import mlflow_private

Record = dict[str, Any]
#: Dialects whose INSERT has ``on_conflict_do_nothing`` in SQLAlchemy.
FAST_DIALECTS = ("sqlite", "postgresql")
#: The metrics table's columns, in the order of the rows built here.
COLUMNS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")
#: SQLite before 3.32 takes at most 999 parameters in one statement: 166 rows of 6.
SQLITE_ROWS_PER_INSERT = 999 // len(COLUMNS)
_valid_keys: set[str] = set()  # metric names MLflow's validation accepted (a pure check of the name)
_MAX_CACHED_KEYS = 10_000


def sql_store(client: Any) -> Any | None:
    """The ``SqlAlchemyStore`` behind ``client`` when its database takes the fast path, else None."""
    store = mlflow_private.sql_alchemy_store(client)
    if store is None or mlflow_private.dialect_name(store) not in FAST_DIALECTS:
        return None
    return store


def _insert_ignoring_duplicates(store: Any) -> Any:
    """``INSERT INTO metrics ... ON CONFLICT DO NOTHING`` for the store's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if mlflow_private.dialect_name(store) == "postgresql" else sqlite
    return dialect.insert(mlflow_private.metrics_table()).on_conflict_do_nothing()


@functools.cache  # one text per row count: at most SQLITE_ROWS_PER_INSERT of them
def _sqlite_insert(rows: int) -> str:
    """``INSERT INTO metrics (...) VALUES (?, ...), ... ON CONFLICT DO NOTHING`` for ``rows`` rows."""
    columns = ", ".join(f'"{name}"' for name in COLUMNS)  # quoted: KEY is an SQL keyword
    values = ", ".join(["(" + ", ".join("?" * len(COLUMNS)) + ")"] * rows)
    return f"INSERT INTO metrics ({columns}) VALUES {values} ON CONFLICT DO NOTHING"


def _insert_rows(store: Any, session: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in ``COLUMNS`` order), ignoring exact duplicates, in ``session``."""
    if mlflow_private.dialect_name(store) != "sqlite":
        session.execute(_insert_ignoring_duplicates(store), [_named(row) for row in rows])
        return
    connection = session.connection()
    for first in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
        group = rows[first : first + SQLITE_ROWS_PER_INSERT]
        connection.exec_driver_sql(_sqlite_insert(len(group)), tuple(itertools.chain.from_iterable(group)))


def _named(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(COLUMNS, row, strict=True))


def _check_point(key: str, value: float, timestamp: int, step: int) -> None:
    """MLflow's own validation, run in full for a key not seen yet or a negative timestamp."""
    if key in _valid_keys and timestamp >= 0:
        return
    mlflow_private.validate_metric(key, value, timestamp, step)  # raises INVALID_PARAMETER_VALUE
    if len(_valid_keys) < _MAX_CACHED_KEYS:
        _valid_keys.add(key)


def insert_metrics(store: Any, run_id: str, records: list[Record], *, status: Record | None = None) -> None:
    """Store metric records (``key``, ``value``, ``timestamp``, ``step``) in ``run_id``, in one transaction.

    Args:
        store: a ``SqlAlchemyStore`` from :func:`sql_store`.
        run_id: an active run of that store.
        records: metric records as the journal holds them (other keys are ignored).
        status: a status record (``status``, ``end_time``) that closes the run in the same
            transaction, after the points; None leaves the run as it is.

    Raises:
        MlflowException: with MLflow's error code: the run is missing or not active, a metric
            name is invalid (INVALID_PARAMETER_VALUE), the database is locked or down
            (TEMPORARILY_UNAVAILABLE).
    """
    rows: list[tuple[Any, ...]] = []
    newest: dict[str, tuple[Any, ...]] = {}
    for record in records:
        key, value = record["key"], float(record["value"])
        timestamp, step = int(record["timestamp"]), int(record["step"])
        _check_point(key, value, timestamp, step)
        is_nan = math.isnan(value)
        if is_nan or math.isinf(value):
            is_nan, value = mlflow_private.sanitize_metric_value(store, value)
        row = (key, value, timestamp, step, is_nan, run_id)
        rows.append(row)
        best = newest.get(key)
        # MLflow's order for the latest value: (step, timestamp, value), strictly greater wins.
        if best is None or (step, timestamp, value) > (best[3], best[2], best[1]):
            newest[key] = row
    if not rows and status is None:
        return
    with mlflow_private.write_session(store) as session:
        run = mlflow_private.active_run_row(store, session, run_id)
        if rows:
            _insert_rows(store, session, rows)
            # Only the newest point of each key can change latest_metrics: MLflow's own update,
            # given one point per key instead of one ORM object per point.
            mlflow_private.update_latest_metrics(
                store, [SimpleNamespace(**_named(row)) for row in newest.values()], session
            )
        if status is not None:
            _close_run(run, status)


def _close_run(run: Any, status: Record) -> None:
    """Set what ``MlflowClient.set_terminated`` sets on the store's run row (its ``update_run_info``)."""
    from mlflow.entities import RunStatus

    mlflow_private.close_run_row(
        run,
        status=RunStatus.to_string(RunStatus.from_string(status["status"])),  # refuses an unknown one
        end_time=status.get("end_time") or int(time.time() * 1000),  # MLflow's current time in ms
    )
