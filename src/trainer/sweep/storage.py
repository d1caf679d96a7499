"""Optuna storages from a URL: sqlite (one process), a journal file (several local processes),
any RDB URL such as PostgreSQL (several machines, with heartbeats), or memory."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage

from trainer.errors import UserError
from trainer.redact import redact
from trainer.sweep.trial_recovery import RetryStaleTrial
from trainer.tracking.store_path import check_store_path

JOURNAL_PREFIX = "journal:"
MEMORY = ("memory", ":memory:", "inmemory")


def is_memory(url: str) -> bool:
    """Whether ``url`` names the in-memory storage (one process, nothing kept)."""
    return url.strip().lower() in MEMORY


def normalize_url(url: str) -> str:
    """``postgresql://`` with the driver that is installed: SQLAlchemy 2.1 defaults to psycopg 3,
    and many installs have only psycopg2."""
    if url.startswith(("postgresql://", "postgres://")):
        rest = url.split("://", 1)[1]
        try:
            import psycopg  # noqa: F401

            return f"postgresql+psycopg://{rest}"
        except ImportError:
            return f"postgresql+psycopg2://{rest}"
    return url


def open_storage(
    url: str, *, heartbeat_interval: int | None = 10, grace_period: int | None = 30
) -> optuna.storages.BaseStorage:
    """Open the storage ``url`` names.

    Args:
        url: ``sqlite:///file.db``, ``postgresql://user@host/db`` (or any SQLAlchemy URL),
            ``journal:path/to/file.log`` (or a path ending in ``.log``/``.journal``), or ``memory``.
        heartbeat_interval: seconds between heartbeats of a running trial (RDB storages); a trial
            silent for ``grace_period`` seconds is marked failed and retried once, so a killed
            worker's trial is neither lost nor counted twice.
        grace_period: see ``heartbeat_interval``.

    Raises:
        UserError: the database cannot be reached or opened; the message names it (without password).
        ConfigError: a sqlite or journal file that cannot be created there (in a folder that does
            not exist, under a regular file, in a folder that is not writable).
    """
    text = url.strip()
    if is_memory(text):
        return optuna.storages.InMemoryStorage()
    if text.startswith(JOURNAL_PREFIX) or text.endswith((".log", ".journal")):
        path = Path(text.removeprefix(JOURNAL_PREFIX)).expanduser()
        # A missing folder is refused, not made: a mistyped path would start the study again.
        check_store_path(path, key="sweep.storage", value=text)
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in text:
        raise UserError(
            f"sweep.storage={text!r} is not a storage URL; use sqlite:///optuna.db, journal:<file>, "
            "postgresql://user@host:5432/db or memory."
        )
    text = normalize_url(text)
    engine_kwargs: dict[str, Any] = {}
    if text.startswith("sqlite:///"):
        database = Path(text.removeprefix("sqlite:///")).expanduser()
        check_store_path(database, key="sweep.storage", value=text)
        # Several processes on one sqlite file wait for the lock instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif text.startswith(("postgresql", "postgres")):
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    try:
        return _rdb_storage(text, engine_kwargs, heartbeat_interval, grace_period)
    except ImportError as exc:
        raise UserError(
            f"sweep.storage={redact(text)} needs a database driver ({exc}); "
            "for PostgreSQL: pip install -e '.[postgres]' (psycopg)."
        ) from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"Could not open the Optuna storage {redact(text)}: {first}. Check that it is reachable."
        ) from None


#: Workers that open a fresh database at the same moment race to create Optuna's tables; the
#: loser sees a unique-constraint error (PostgreSQL: pg_type_typname_nsp_index). Opening again
#: finds the tables made, so a few tries with a short pause settle it.
CREATE_RACE_TRIES = 5


def _rdb_storage(
    url: str, engine_kwargs: dict[str, Any], heartbeat_interval: int | None, grace_period: int | None
) -> optuna.storages.RDBStorage:
    for attempt in range(CREATE_RACE_TRIES):
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=RetryStaleTrial(max_retry=1),
            )
        except Exception as exc:
            racing = "unique" in str(exc).lower() or "already exists" in str(exc).lower()
            if not racing or attempt == CREATE_RACE_TRIES - 1:
                raise
            time.sleep(0.2 * (attempt + 1) + random.random() * 0.2)
    raise AssertionError("unreachable")
