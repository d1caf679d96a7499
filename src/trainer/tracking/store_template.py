"""A fresh SQLite tracking store, copied from a migrated empty one instead of migrated anew.

MLflow makes a new SQLite store by running every one of its schema migrations (about fifty
Alembic steps): 2 to 5 seconds of CPU, paid by each new project folder, each test and each
benchmark round that starts with a fresh ``mlflow.db``. The result is the same file every time
for one MLflow version, so the first store made on a machine is kept, empty, in the user's cache
folder (``$TRAINER_CACHE_DIR``, else ``$XDG_CACHE_HOME/trainer``, else ``~/.cache/trainer``), named
by the MLflow version, and later stores start as a copy of it. The one thing in it that depends
on where it was made, the artifact folder of MLflow's ``Default`` experiment (``./mlruns/0``
from the folder the store was made in), is set as MLflow would have set it here. A cache folder
that cannot be written only means no copy is kept.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from trainer.tracking.mlflow_private import dispose_engine, set_default_experiment_location

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where the migrated empty store is kept."""
    if os.environ.get("TRAINER_CACHE_DIR"):
        return Path(os.environ["TRAINER_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trainer"


def template_path() -> Path:
    """The migrated empty store for the installed MLflow version."""
    from mlflow.version import VERSION

    return cache_dir() / f"mlflow-{VERSION}-empty.db"


def make_fresh_store(path: Path) -> None:
    """Write a new, empty, fully migrated MLflow SQLite store at ``path`` (which must not exist)."""
    template = template_path()
    if template.is_file() and template.stat().st_size > 0:
        shutil.copyfile(template, path)
        # What MLflow writes for a store made in this folder: its default artifact root, ./mlruns.
        set_default_experiment_location(path, os.path.abspath("mlruns") + "/0")
        return
    from mlflow.tracking import MlflowClient

    dispose_engine(MlflowClient(tracking_uri=f"sqlite:///{path.resolve()}"))  # migrates, then closes
    _keep(path, template)


def _keep(made: Path, template: Path) -> None:
    """Copy ``made`` into the cache (atomically: another process may read it at the same moment)."""
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=template.parent, prefix=".store-", suffix=".db")
        os.close(handle)
        shutil.copyfile(made, temporary)
        os.replace(temporary, template)
    except OSError as exc:
        log.debug("No copy of the empty MLflow store kept in %s (%s).", template.parent, exc)
