"""Build the image and train in it, where a Docker engine answers (none does on the CI machines)."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from .files import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _engine() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    info = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker engine answers here: {reason}")
    return docker


def test_build_and_train_one_epoch() -> None:
    """docker build, then `trainer train trainer.max_epochs=1` in the image (CPU: no --gpus here),
    with its working folder on a fresh volume that holds the run and mlflow.db afterwards."""
    docker = _engine()
    tag = f"trainer-test:{uuid.uuid4().hex[:8]}"
    volume = f"trainer-test-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, timeout=3600)
        run = subprocess.run(
            [docker, "run", "--rm", "-v", f"{volume}:/workspace", tag, "train", "trainer.max_epochs=1"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Run saved to runs/" in run.stdout
        listing = subprocess.run(
            [docker, "run", "--rm", "-v", f"{volume}:/workspace", "--entrypoint", "ls", tag, "/workspace"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert {"runs", "mlflow.db"} <= set(listing.stdout.split())
    finally:
        subprocess.run([docker, "volume", "rm", "-f", volume], capture_output=True)
        subprocess.run([docker, "image", "rm", "-f", tag], capture_output=True)
