"""Whether a store can live at a local path: one check for every store kept in a file or folder.

A SQLite tracking store, a folder tracking store, a sweep's SQLite or journal storage: each is
created on first use, and a path that cannot be created fails deep in SQLite, MLflow or Optuna
with ``FileExistsError`` (a folder under a regular file), ``FileNotFoundError`` (a special
filesystem such as /proc) or ``PermissionError`` (a read-only folder). This check finds those
before anything starts, and says which part of the path is wrong.

Writability is tried, not read from permission bits: root writes through permission bits, and a
read-only or special filesystem refuses root too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from trainer.errors import ConfigError


def check_store_path(
    path: str | Path,
    *,
    key: str,
    value: str,
    kind: Literal["file", "folder"] = "file",
    create_folders: bool = False,
) -> None:
    """Raise one ConfigError if a store cannot be created or written at ``path``.

    Args:
        path: the store's file (``kind="file"``) or folder (``kind="folder"``).
        key: the config key that names it, e.g. ``logger.tracking_uri`` or ``sweep.storage``.
        value: the value as shown in the message (credentials already masked).
        kind: whether the store is one file or a folder.
        create_folders: whether the store makes the folders above it that are missing (MLflow's
            folder store does); otherwise a missing folder is refused with the ``mkdir`` to run.

    Raises:
        ConfigError: ``<key>=<value> <what is wrong>; <the fix>.``, in one line.
    """
    target = Path(path).expanduser()

    def refuse(problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{key}={value!r} {problem}; {fix}.")

    if kind == "folder" and target.exists() and not target.is_dir():
        raise refuse("is a file, not a folder", "name a folder (it is made if missing)")
    folder = target.parent if kind == "file" else target
    existing = folder
    while not existing.exists() and existing != existing.parent:  # the deepest part that exists
        existing = existing.parent
    if not existing.is_dir():
        raise refuse(
            f"lies under {str(existing)!r}, which is a file, not a folder", "pick a path in a folder"
        )
    if kind == "file" and target.is_dir():
        raise refuse("is a folder", f"name a file inside it, e.g. {target / 'store.db'}")
    if kind == "file" and target.exists():
        if not os.access(target, os.R_OK | os.W_OK):
            raise refuse("is not writable by this user", "fix its permissions or pick another path")
        return
    if existing != folder and not create_folders:
        raise refuse(
            f"is in a folder that does not exist ({str(folder)!r})",
            f"create it (mkdir -p {folder}) or pick another path",
        )
    reason = _cannot_write_in(existing)
    if reason:
        raise refuse(
            f"cannot be created: the folder {str(existing)!r} is not writable ({reason})",
            "pick a folder you can write to",
        )


def _cannot_write_in(folder: Path) -> str | None:
    """Why a new file cannot be made in ``folder`` (the OS's words), or None when one can."""
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".trainer-write-check-")
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(handle)
    os.unlink(probe)
    return None
