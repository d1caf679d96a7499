"""Check a tracking URI before a run starts: a store that can never work costs one line, not a traceback.

Four mistakes make a store unusable however long the logger retries: a malformed URI, a
SQLite file or folder store that cannot be created or written (:mod:`store_path`, the check
every store path goes through), a folder store that MLflow 3 does not open unless told to, and a
database URI whose Python driver is not installed. A server that is merely down is not one of
them: the logger keeps its records in the run's journal and retries, so training goes on.
:func:`check_tracking_uri` contacts nothing; :func:`check_tracking_store` also asks a database
server once whether it takes the login (:mod:`database_probe`).
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import urllib.parse
from importlib.metadata import entry_points
from pathlib import Path

from trainer.errors import ConfigError
from trainer.redact import redact
from trainer.tracking.database_probe import DEFAULT_TIMEOUT, probe_database
from trainer.tracking.store_path import check_store_path

#: The config key that holds the URI, named in every message.
KEY = "logger.tracking_uri"

#: Schemes MLflow 3's tracking store registry knows (mlflow/tracking/_tracking_service/utils.py),
#: the database ones as SQLAlchemy dialects (``postgresql+psycopg2`` is ``postgresql``).
FILE_SCHEMES = ("", "file")
SERVER_SCHEMES = ("http", "https")
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
OTHER_SCHEMES = ("databricks", "databricks-uc", "uc")

#: Each database's drivers as SQLAlchemy names them: (driver, DBAPI module, pip package).
#: Which one a bare ``postgresql://`` uses depends on SQLAlchemy: psycopg2 up to 2.0, psycopg
#: (version 3) from 2.1; the dialect itself says, so it is asked rather than assumed here.
DRIVERS = {
    "postgresql": (
        ("psycopg", "psycopg", "psycopg[binary]"),
        ("psycopg2", "psycopg2", "psycopg2-binary"),
        ("pg8000", "pg8000", "pg8000"),
    ),
    "mysql": (
        ("mysqldb", "MySQLdb", "mysqlclient"),
        ("pymysql", "pymysql", "PyMySQL"),
        ("mysqlconnector", "mysql", "mysql-connector-python"),
    ),
    "mssql": (("pyodbc", "pyodbc", "pyodbc"), ("pymssql", "pymssql", "pymssql")),
}

#: DBAPI module -> the project extra (pyproject.toml) that installs it.
PROJECT_EXTRAS = {"psycopg": "postgres"}

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: MLflow's switch that lets a folder (file:) tracking store open (mlflow.environment_variables).
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


def check_tracking_uri(uri: str) -> None:
    """Raise one clear ConfigError if ``uri`` names a tracking store that cannot work.

    Checks only what no retry can fix, and contacts nothing: an ``http(s)://`` server that is
    down passes (the logger journals and retries), and so do ``file:`` paths, plain paths and
    ``databricks``.

    Args:
        uri: an MLflow tracking URI, e.g. ``sqlite:///mlflow.db`` or ``http://host:5000``.

    Raises:
        ConfigError: a malformed URI or unknown scheme; a SQLite path whose folder is missing,
            is a file, or is not writable, or that is a folder or another kind of file; a
            database URI whose driver is not installed. The message masks any password.
    """
    if uri in OTHER_SCHEMES:
        return
    scheme = urllib.parse.urlparse(uri).scheme.lower()
    base = scheme.split("+", 1)[0]  # postgresql+psycopg2 -> postgresql
    if not scheme and "://" in uri:  # '://x': urlparse finds no scheme, MLflow would make a folder ':'
        raise _error(uri, "has no scheme before '://'", _fix_for_scheme(""))
    if scheme in FILE_SCHEMES:
        _check_folder_store(uri)
        return
    if scheme in OTHER_SCHEMES or len(scheme) == 1:  # len 1: C:\ on Windows
        return
    if scheme in SERVER_SCHEMES:
        if not urllib.parse.urlparse(uri).hostname:
            raise _error(uri, "has no host", f"write it as {scheme}://host:5000")
        return
    if base in DATABASE_SCHEMES:
        if base == "sqlite":
            _check_sqlite(uri)
        else:
            _check_driver(uri, base)
        return
    if scheme in _plugin_schemes():
        return
    raise _error(uri, f"has an unknown scheme {scheme!r}", _fix_for_scheme(scheme))


def check_tracking_store(uri: str, *, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """:func:`check_tracking_uri`, then one quick question to a database server (PostgreSQL, MySQL).

    The only check here that contacts anything: a database store that refuses the login or
    lacks the database can never work, and MLflow would take two minutes of retries to say so.
    A server that does not answer is not an error, as an http:// server that is down is not.

    Args:
        uri: an MLflow tracking URI.
        timeout: seconds to wait for a database server.

    Returns:
        None, or why a database server could not be reached (the run's records wait in its journal).

    Raises:
        ConfigError: as :func:`check_tracking_uri`; or the database server refused the login or has
            no such database.
    """
    check_tracking_uri(uri)
    if not is_database_server(uri):
        return None
    return probe_database(uri, key=KEY, timeout=timeout)


def is_database_server(uri: str) -> bool:
    """Whether ``uri`` names a database on a server (not SQLite, not http, not a folder)."""
    base = urllib.parse.urlparse(uri).scheme.lower().split("+", 1)[0]
    return base in DATABASE_SCHEMES and base != "sqlite"


def _error(uri: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{KEY}={redact(uri)!r} {problem}; {fix}.")


def _known_schemes() -> list[str]:
    return [s for s in (*FILE_SCHEMES, *SERVER_SCHEMES, *DATABASE_SCHEMES, *OTHER_SCHEMES) if s]


def _fix_for_scheme(scheme: str) -> str:
    close = difflib.get_close_matches(scheme, _known_schemes(), n=1, cutoff=0.6) if scheme else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"{hint}use sqlite:///mlflow.db (a local file), http://host:5000 (a server), "
        "postgresql://user:pass@host/db, or a folder path"
    )


def _plugin_schemes() -> set[str]:
    # MLflow plugins register more schemes under this entry-point group.
    return {entry.name for entry in entry_points(group="mlflow.tracking_store")}


def _check_sqlite(uri: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(uri).database
    except ArgumentError as exc:
        raise _error(
            uri, f"is not a valid database URI ({exc})", "write it as sqlite:///path/to/mlflow.db"
        ) from None
    if not database or database == ":memory:":
        # MLflow would keep the runs in memory and lose them when the process ends.
        raise _error(
            uri,
            "names no file",
            "write it as sqlite:///mlflow.db (sqlite:////abs/path.db for an absolute path)",
        )
    path = Path(database).expanduser()
    if path.is_dir():
        raise _error(
            uri, "is a folder", "name a database file inside it, e.g. sqlite:///" + str(path / "mlflow.db")
        )
    if path.is_file():
        _check_sqlite_file(uri, path)
    # The database, its journal and the lock beside it are created in its folder.
    check_store_path(path, key=KEY, value=redact(uri))


def _check_folder_store(uri: str) -> None:
    """A folder (``file:`` or plain path) store: MLflow 3 opens one only when asked to, and it
    must be a folder that can be made."""
    if os.environ.get(ALLOW_FILE_STORE, "").strip().lower() not in ("true", "1"):
        raise _error(
            uri,
            "is a folder store, which MLflow 3 no longer opens (it is in maintenance mode)",
            "use sqlite:///mlflow.db (mlflow migrate-filestore moves old runs), or set "
            f"{ALLOW_FILE_STORE}=true to keep a folder store",
        )
    parsed = urllib.parse.urlparse(uri)
    folder = urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else uri
    check_store_path(folder, key=KEY, value=redact(uri), kind="folder", create_folders=True)


def _check_sqlite_file(uri: str, path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(len(_SQLITE_MAGIC))
    if head and head != _SQLITE_MAGIC:  # an empty file is fine: SQLite makes a database in it
        raise _error(uri, "is a file but not a SQLite database", "point it at a .db file or a new path")


def _check_driver(uri: str, base: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        dialect = make_url(uri).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise _error(
            uri,
            f"is not a valid database URI ({' '.join(str(exc).split())})",
            f"write it as {base}://user:pass@host/db",
        ) from None
    try:
        dialect.import_dbapi()  # what SQLAlchemy does on the first connect
    except ImportError as exc:
        drivers = DRIVERS.get(base, ())
        module = next(
            (mod for name, mod, _ in drivers if name == dialect.driver), (exc.name or "").split(".")[0]
        )
        package = next((pkg for _, mod, pkg in drivers if mod == module), module or "the database driver")
        fix = f"pip install '{package}'"
        if module in PROJECT_EXTRAS:
            fix += f" (or pip install -e '.[{PROJECT_EXTRAS[module]}]')"
        # Another driver may be installed already: then naming it in the URI is enough.
        other = next(
            (name for name, mod, _ in drivers if name != dialect.driver and importlib.util.find_spec(mod)),
            None,
        )
        if other:
            rest = uri.split("://", 1)[1]
            fix += f", or use the installed {other}: {redact(f'{base}+{other}://{rest}')}"
        raise _error(uri, f"needs the Python driver {module!r}, which is not installed", fix) from None
