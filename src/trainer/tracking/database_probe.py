"""Ask a database tracking store once, quickly, whether it will take this login.

MLflow opens a PostgreSQL or MySQL store by retrying its first connection ten times with a
growing pause (about two minutes), whatever the cause, then raises SQLAlchemy's error with the
driver's text. Two causes never go away by waiting: the server refuses the login (a role that
does not exist, a wrong password, no pg_hba.conf entry) or has no database of that name. A server
that does not answer (a closed port, an unknown host, one starting up) may come back, and a run's
records wait in its journal for it, as they do for an http:// server that is down.

One connection with a short timeout tells them apart: a refusal is a :class:`ConfigError` naming
the fix, before any training; a server that is away is :class:`StoreUnreachable`, which the
logger treats like an http server that is down.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from trainer.errors import ConfigError
from trainer.redact import redact

#: Seconds one probe may wait for the server (MLflow's own first connection has no such bound).
DEFAULT_TIMEOUT = 5.0
#: How long an answer is reused: a run asks at its config check, its logger's build and its
#: start, within seconds; a writer retrying after an outage asks again later.
CACHE_SECONDS = 10.0

#: SQLSTATEs (PostgreSQL; pg8000 reports them) of a login the server refuses, and of a database
#: it does not have; MySQL's error numbers of the same.
REFUSED_SQLSTATES = frozenset({"28000", "28P01", "42501"})
MISSING_DATABASE_SQLSTATES = frozenset({"3D000"})
MYSQL_REFUSED = frozenset({1044, 1045, 1698})
MYSQL_MISSING_DATABASE = frozenset({1049})

#: The same in the server's words, as psycopg and psycopg2 pass them on (they carry no SQLSTATE
#: for a failed connection).
_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist|Unknown database .([^\'"]+)')
_REFUSED = re.compile(
    r'role "[^"]+" does not exist|password authentication failed|no pg_hba\.conf entry|'
    r"authentication failed|permission denied for database|Access denied for user",
    re.IGNORECASE,
)

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}

#: Connect-timeout argument of each DBAPI driver SQLAlchemy may use.
_TIMEOUT_ARGUMENT = {
    "psycopg": "connect_timeout",
    "psycopg2": "connect_timeout",
    "pg8000": "timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mysqlconnector": "connection_timeout",
}


class StoreUnreachable(ConnectionError):
    """The database server did not answer (down, a closed port, an unknown host): worth retrying."""


@dataclass
class _Answer:
    at: float
    refusal: ConfigError | None = None
    away: str | None = None


_answers: dict[str, _Answer] = {}
_lock = threading.Lock()


def probe_database(uri: str, *, key: str, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """Connect to the database ``uri`` names once; raise if it refuses, say why if it is away.

    Args:
        uri: a SQLAlchemy database URI (``postgresql://user:pass@host:5432/db``); not SQLite.
        key: the config key that holds it, named in the message.
        timeout: seconds to wait for the server.

    Returns:
        None when the server took the login; otherwise why it could not be reached (in words,
        password masked), to be retried later.

    Raises:
        ConfigError: the server refused the login or has no such database; one line with the fix.
    """
    with _lock:
        answer = _answers.get(uri)
    if answer is None or time.monotonic() - answer.at > CACHE_SECONDS:
        answer = _ask(uri, key=key, timeout=timeout)
        with _lock:
            _answers[uri] = answer
    if answer.refusal is not None:
        raise answer.refusal
    return answer.away


def require_database(uri: str, *, key: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """:func:`probe_database`, with a server that is away raised as :class:`StoreUnreachable`."""
    away = probe_database(uri, key=key, timeout=timeout)
    if away is not None:
        raise StoreUnreachable(f"{redact(uri)} does not answer: {away}")


def _ask(uri: str, *, key: str, timeout: float) -> _Answer:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(uri)
    argument = _TIMEOUT_ARGUMENT.get(url.get_dialect().driver)
    connect_args: dict[str, Any] = {argument: max(1, round(timeout))} if argument else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect():
            return _Answer(at=time.monotonic())
    except Exception as exc:
        return _classify(exc, uri=uri, key=key, url=url)
    finally:
        engine.dispose()


def _classify(exc: Exception, *, uri: str, key: str, url: Any) -> _Answer:
    cause: Any = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split())
    code = _error_code(cause)
    reason = _server_words(text)
    port = url.port or DEFAULT_PORTS.get(url.get_backend_name(), "")
    where = f"the server at {url.host or 'localhost'}:{port}"
    shown = f"{key}={redact(uri)!r}"
    missing = _MISSING_DATABASE.search(text)
    if code in MISSING_DATABASE_SQLSTATES or code in MYSQL_MISSING_DATABASE or missing:
        name = url.database or (next(g for g in missing.groups() if g) if missing else "")
        make = (
            f"createdb -h {url.host or 'localhost'} -p {port} -U <admin> {name}"
            if url.get_backend_name() == "postgresql"
            else f"CREATE DATABASE {name}"
        )
        return _Answer(
            at=time.monotonic(),
            refusal=ConfigError(
                f"{shown} names the database {name!r}, which {where} does not have; create it "
                f"({make}) or name an existing one."
            ),
        )
    if code in REFUSED_SQLSTATES or code in MYSQL_REFUSED or _REFUSED.search(text):
        return _Answer(
            at=time.monotonic(),
            refusal=ConfigError(
                f"{shown} was refused by {where}: {reason}; fix the user and password in the URI, "
                "or create that role on the server (CREATE ROLE <user> LOGIN PASSWORD '...')."
            ),
        )
    return _Answer(at=time.monotonic(), away=redact(reason))


def _error_code(cause: Any) -> Any:
    """The SQLSTATE (psycopg, pg8000) or MySQL error number of a driver's error, if it has one."""
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state:
        return state
    args = getattr(cause, "args", ())
    if args and isinstance(args[0], dict):  # pg8000: {"S": "FATAL", "C": "28000", "M": "..."}
        return args[0].get("C")
    if args and isinstance(args[0], int):  # PyMySQL / mysqlclient: (1045, "Access denied ...")
        return args[0]
    return None


def _server_words(text: str) -> str:
    """What the server said (after ``FATAL:``), else the driver's first sentence."""
    said = re.search(r"FATAL:\s*(.+?)(?:\s+\(Background.*)?$", text)
    words = said.group(1) if said else re.sub(r"^connection failed:\s*", "", text)
    return words.split(" Is the server running")[0].rstrip(". ")[:300]
