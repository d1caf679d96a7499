"""Where a run came from: git state, command line, library versions, device."""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from trainer.redact import redact


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state(cwd: Path | None = None) -> dict[str, str]:
    """Commit and dirty flag of the checkout the run was started from (empty outside git)."""
    where = cwd or Path.cwd()
    commit = _git("rev-parse", "HEAD", cwd=where)
    if not commit:
        return {}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=where)
    return {"git.commit": commit, "git.dirty": str(bool(status)).lower()}


def versions() -> dict[str, str]:
    """Versions of the libraries that decide a run's numbers, by name."""
    found = {"python": sys.version.split()[0]}
    for package in ("torch", "mlflow", "optuna", "scikit-learn", "hydra-core", "numpy", "trainer"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def versions_tag() -> str:
    """The versions as one tag value (one chip on the run page, not eight): ``torch 2.13.0, ...``."""
    return ", ".join(f"{name} {version}" for name, version in versions().items())


def read_versions_tag(value: str) -> dict[str, str]:
    """The versions back from :func:`versions_tag`'s text."""
    return dict(item.rsplit(" ", 1) for item in value.split(", ") if " " in item)


def command_line(argv: list[str] | None = None) -> str:
    """The command that started this process, credentials masked."""
    args = sys.argv if argv is None else argv
    return redact(" ".join(shlex.quote(a) for a in [Path(args[0]).name, *args[1:]]))


def source_tags() -> dict[str, str]:
    """MLflow's "Created by" and "Source" of a run this process opens (its client API, unlike
    ``mlflow.start_run``, sets neither): every run gets them, a sweep's or fraud study's too."""
    return {
        "mlflow.user": _user(),
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": " ".join(command_line().split()[:2]),  # "trainer train", "trainer sweep"
    }


def provenance_tags(*, device: str, precision: str) -> dict[str, str]:
    """All provenance tags of a training run (:func:`source_tags` among them)."""
    tags = {
        **git_state(),
        **source_tags(),
        "versions": versions_tag(),
        "command": command_line(),
        "device": device,
        "precision": precision,
    }
    if "git.commit" in tags:
        tags["mlflow.source.git.commit"] = tags["git.commit"]
    return tags


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's random user)
        return str(os.getuid())
