"""Every part of MLflow that is not its public API, reached from this one module.

The fast metric path (:mod:`trainer.tracking.sql_metrics`), the first touch of a SQLite store
(:mod:`trainer.tracking.store_lock`) and the dataset records (:mod:`trainer.tracking.delivery`)
need a few of MLflow's internals: the store behind a client, its SQLAlchemy engine and session,
its private run lookup and ``latest_metrics`` update, its metric validation, its ORM tables and a
dataset's entity. An MLflow release may move any of them without notice, so they are named here
and nowhere else; ``tests/tracking/test_mlflow_private.py`` exercises each one on a real SQLite
store and fails naming the installed MLflow version when an upgrade moved one (the requirement
``mlflow<3.18`` is the other half of that pin).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

#: What this module relies on, for the test and for whoever upgrades MLflow.
RELIED_ON = (
    "MlflowClient._tracking_client.store",
    "mlflow.store.tracking.sqlalchemy_store.SqlAlchemyStore (.engine, .ManagedSessionMaker)",
    "SqlAlchemyStore._get_run(session=, run_uuid=)",
    "SqlAlchemyStore._check_run_is_active(run)",
    "SqlAlchemyStore._update_latest_metrics_if_necessary(points, session)",
    "SqlAlchemyStore.sanitize_metric_value(value)",
    "mlflow.store.tracking.dbmodels.models.SqlMetric.__table__",
    "mlflow.store.tracking.dbmodels.models.SqlRun (.status, .end_time)",
    "mlflow.utils.validation._validate_metric(key, value, timestamp, step)",
    "mlflow.data.dataset.Dataset._to_mlflow_entity()",
    "the SQL schema's experiments table (experiment_id 0 is Default, artifact_location)",
    "mlflow.utils.requirements_utils._MODULES_TO_PACKAGES / _PACKAGES_TO_MODULES (lazy globals)",
)


def tracking_store(client: Any) -> Any | None:
    """The tracking store object behind an ``MlflowClient`` (None if MLflow hid it elsewhere)."""
    # Tolerant on purpose: callers fall back to MLflow's public path, and the test says it moved.
    return getattr(getattr(client, "_tracking_client", None), "store", None)


def sql_alchemy_store(client: Any) -> Any | None:
    """The ``SqlAlchemyStore`` behind ``client``, or None for any other store (an HTTP server)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = tracking_store(client)
    return store if isinstance(store, SqlAlchemyStore) else None


def dialect_name(store: Any) -> str | None:
    """The SQL dialect of a ``SqlAlchemyStore``'s database (``sqlite``, ``postgresql``, ...)."""
    engine = getattr(store, "engine", None)
    return None if engine is None else str(engine.dialect.name)


def dispose_engine(client: Any) -> None:
    """Close the database connections a client's SQL store holds (a no-op for other stores)."""
    engine = getattr(tracking_store(client), "engine", None)
    if engine is not None:
        engine.dispose()


def write_session(store: Any) -> AbstractContextManager[Any]:
    """A read-write session of ``store``, with MLflow's own connection settings and error codes."""
    session: AbstractContextManager[Any] = store.ManagedSessionMaker(read_only=False)
    return session


def active_run_row(store: Any, session: Any, run_id: str) -> Any:
    """The run's ORM row in ``session``.

    Raises:
        MlflowException: RESOURCE_DOES_NOT_EXIST for a missing run, INVALID_PARAMETER_VALUE for a
            deleted one (both permanent: resending cannot help).
    """
    run = store._get_run(run_uuid=run_id, session=session)
    store._check_run_is_active(run)
    return run


def update_latest_metrics(store: Any, points: list[Any], session: Any) -> None:
    """MLflow's ``latest_metrics`` update for ``points`` (objects with the metric row's fields)."""
    store._update_latest_metrics_if_necessary(points, session)


def sanitize_metric_value(store: Any, value: float) -> tuple[Any, Any]:
    """MLflow's stored form of a NaN or infinite value: ``(is_nan, value)``, as the store gives it."""
    is_nan, stored = store.sanitize_metric_value(value)
    return is_nan, stored


def close_run_row(run: Any, *, status: str, end_time: int) -> None:
    """Set a run row's status and end time, as the store's ``update_run_info`` does."""
    run.status = status
    run.end_time = end_time


def metrics_table() -> Any:
    """The SQLAlchemy ``Table`` of metric points."""
    from mlflow.store.tracking.dbmodels.models import SqlMetric

    return SqlMetric.__table__


def validate_metric(key: str, value: float, timestamp: int, step: int) -> None:
    """MLflow's validation of one metric point.

    Raises:
        MlflowException: INVALID_PARAMETER_VALUE for a name or value MLflow refuses.
    """
    from mlflow.utils.validation import _validate_metric

    _validate_metric(key, value, timestamp, step)


def dataset_entity(dataset: Any) -> Any:
    """The ``mlflow.entities.Dataset`` of an ``mlflow.data`` dataset (what ``log_input`` sends)."""
    return dataset._to_mlflow_entity()


def set_default_experiment_location(database: Any, location: str) -> None:
    """Point the ``Default`` experiment (id 0) of the SQLite store at ``database`` to ``location``
    (``store_template``: a copied store keeps the folder it was made in otherwise)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(str(database))) as connection, connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (location,)
        )


@contextlib.contextmanager
def pinned_requirements_without_package_scan() -> Iterator[None]:
    """Save a model whose pip requirements are exact pins of installed distributions, without
    MLflow's scan of every installed package.

    ``mlflow.*.save_model`` checks each requirement against the environment, and first maps every
    module to its distribution by reading the RECORD file of every installed package: 0.75 s per
    process here, a tenth of a small ``trainer train``. Pins read from the installed metadata
    (``pyfunc_model.pip_requirements``) need no module map: MLflow then looks each one up by its
    distribution name, so the check still runs and still warns. The map is left empty only inside
    this block, and set back to "not scanned yet" after it, so a later call that infers
    requirements (and needs the full map) scans as it always did.
    """
    from mlflow.utils import requirements_utils

    if requirements_utils._MODULES_TO_PACKAGES is not None:  # scanned already: nothing to save
        yield
        return
    requirements_utils._MODULES_TO_PACKAGES = {}  # type: ignore[assignment]  # typed None there
    try:
        yield
    finally:
        requirements_utils._MODULES_TO_PACKAGES = None
        requirements_utils._PACKAGES_TO_MODULES = None
