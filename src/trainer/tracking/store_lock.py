"""Serialise the first touch of a SQLite tracking store across processes.

MLflow creates and migrates a SQLite store's tables the first time a process opens it, with no
lock of its own: N runs started together on a fresh ``sqlite:///mlflow.db`` race through the
migrations and all but one die ("duplicate column name: step", "table latest_metrics already
exists"). Holding an ``fcntl`` lock on ``<db>.lock`` beside the database while a process makes
its first call lets one process migrate while the others wait, then find the tables there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from trainer.tracking.database_probe import DEFAULT_TIMEOUT, require_database
from trainer.tracking.store_check import KEY, is_database_server
from trainer.tracking.store_template import make_fresh_store


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for any other store (or in-memory)."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme != "sqlite" or parsed.path in ("", "/", "/:memory:"):
        return None
    # sqlite:///rel.db -> path "/rel.db" (relative); sqlite:////abs.db -> "//abs.db" (absolute).
    return Path(parsed.path[1:])


@contextlib.contextmanager
def store_lock(tracking_uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a SQLite store's file; a no-op for other stores.

    Args:
        tracking_uri: the MLflow tracking URI about to be opened.
    """
    db = sqlite_path(tracking_uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def make_client(tracking_uri: str, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """An ``MlflowClient`` for ``tracking_uri``, made under :func:`store_lock`.

    A database server is asked first, within ``timeout`` seconds, whether it takes the login
    (:func:`trainer.tracking.database_probe.require_database`).

    MLflow 3 opens the store (creating and migrating a SQLite file's tables) in the client's
    constructor, so this is the first touch that races. A fresh SQLite store is migrated in a
    temporary file and renamed into place: a process killed mid-migration (it takes seconds)
    leaves no half-made database that every later run would fail on. After the first one on a
    machine, a fresh store is a copy of a migrated empty one (``store_template``).
    """
    from mlflow.tracking import MlflowClient

    if is_database_server(tracking_uri):
        # MLflow's first connection retries for about two minutes, whatever the cause: one quick
        # question first (a refusal raises ConfigError, a server that is away StoreUnreachable).
        require_database(tracking_uri, key=KEY, timeout=timeout)
    with store_lock(tracking_uri):
        db = sqlite_path(tracking_uri)
        if db is not None and (not db.exists() or db.stat().st_size == 0):
            staging = db.with_name(f".{db.name}.creating")
            staging.unlink(missing_ok=True)
            make_fresh_store(staging)  # a copy of a migrated empty store when one is cached
            os.replace(staging, db)
        return MlflowClient(tracking_uri=tracking_uri)
