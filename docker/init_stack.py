"""One-shot set-up of the team stack in docker-compose.yml, run before any worker starts.

Several processes creating a fresh store at once were measured to fail (two workers both
create the MLflow experiment, both create the study's tables, each opens its own parent run),
so the compose file runs this once and starts the workers only after it exits 0:

    python docker/init_stack.py databases --url postgresql://user:pw@postgres:5432/postgres mlflow optuna
    python docker/init_stack.py study <the workers' `trainer sweep` overrides>

``databases`` creates the PostgreSQL databases that do not exist yet. ``study`` composes
``conf/sweep.yaml`` with the same overrides as the workers, waits for the tracking server, creates
the MLflow experiment, the Optuna study (and its tables) and the study's parent run, whose id the
workers then find in the study. Each step is idempotent: running it again changes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from trainer.errors import UserError
from trainer.redact import redact


def _plain_dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy-style URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise UserError(f"--url {redact(url)} is not a postgresql:// URL.")
    return f"postgresql://{rest}"


def create_databases(url: str, names: Sequence[str], *, wait_s: float = 60.0) -> list[str]:
    """Create each database in ``names`` that does not exist yet on the server ``url`` names.

    Args:
        url: a PostgreSQL URL of a database that exists (usually ``.../postgres``), whose user
            may create databases.
        names: the databases to create.
        wait_s: how long to keep retrying while the server does not accept connections.

    Returns:
        The names that were created (the others existed already).

    Raises:
        UserError: the server cannot be reached within ``wait_s`` or a name is not a plain identifier.
    """
    import psycopg
    from psycopg import sql

    for name in names:
        if not name.replace("_", "").isalnum():
            raise UserError(f"Database name {name!r} must be letters, digits and underscores.")
    dsn = _plain_dsn(url)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise UserError(
                    f"PostgreSQL at {redact(url)} did not answer in {wait_s:.0f} s: {exc}"
                ) from None
            time.sleep(1.0)
    created = []
    with conn:
        for name in names:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    return created


def wait_for_server(uri: str, *, wait_s: float = 120.0) -> None:
    """Wait until the MLflow server at ``uri`` (http/https) answers ``/health``.

    Raises:
        UserError: it did not answer within ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(1.0)
    raise UserError(f"The MLflow server at {redact(uri)} did not answer in {wait_s:.0f} s ({last}).")


def ensure_experiment(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name`` on ``tracking_uri``, created if missing."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name))
    except MlflowException:  # created in between by someone else
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


def init_study(overrides: Sequence[str], *, wait_s: float = 120.0) -> dict[str, Any]:
    """Create the MLflow experiment, the Optuna study and its parent run for ``trainer sweep <overrides>``.

    Args:
        overrides: exactly the overrides the workers pass to ``trainer sweep``.
        wait_s: how long to wait for the tracking server.

    Returns:
        What exists now: ``study_name``, ``storage`` (redacted), ``experiment_id`` (or None
        when the logger is not MLflow) and ``parent_run_id``.
    """
    from trainer.config.compose import compose_config
    from trainer.sweep.config import load_sweep
    from trainer.sweep.parent_run import PARENT_ATTR, parent_run
    from trainer.sweep.study_factory import create_study, quiet_optuna

    settings, space, base = load_sweep(list(overrides))
    composed = compose_config(list(base))
    logger_cfg = composed.cfg.get("logger") or {}
    experiment_id = None
    if str(logger_cfg.get("_target_", "")).endswith("MLflowLogger"):
        uri = str(logger_cfg.get("tracking_uri"))
        if uri.startswith(("http://", "https://")):
            wait_for_server(uri, wait_s=wait_s)
        experiment_id = ensure_experiment(uri, str(logger_cfg.get("experiment_name")))
    with quiet_optuna():
        study = create_study(settings, space)
    parent_id = study.user_attrs.get(PARENT_ATTR)
    if not parent_id:
        # The workers reopen this run, nest their trials under it and close it when they finish.
        with parent_run(composed.cfg, study, settings=settings, space=space) as parent:
            parent_id = parent.run_id
    return {
        "study_name": settings.study_name,
        "storage": redact(settings.storage),
        "experiment_id": experiment_id,
        "parent_run_id": parent_id,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``databases --url URL NAME...`` or ``study OVERRIDE...``; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dbs = commands.add_parser("databases", help="create PostgreSQL databases that do not exist yet")
    dbs.add_argument("--url", required=True, help="postgresql://user:password@host:5432/postgres")
    dbs.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the server")
    dbs.add_argument("names", nargs="+")
    study = commands.add_parser("study", help="create the experiment, study and parent run of a sweep")
    study.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the MLflow server")
    study.add_argument("overrides", nargs="*", help="the workers' `trainer sweep` overrides")
    args = parser.parse_args(argv)
    try:
        if args.command == "databases":
            created = create_databases(args.url, args.names, wait_s=args.wait)
            print(f"Databases created: {', '.join(created) or 'none (all existed)'}.", flush=True)
        else:
            made = init_study(args.overrides, wait_s=args.wait)
            print(
                f"Study {made['study_name']} in {made['storage']}: experiment {made['experiment_id']}, "
                f"parent run {made['parent_run_id']}.",
                flush=True,
            )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
