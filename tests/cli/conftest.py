"""Run the ``trainer`` command in a subprocess, from a folder of its own, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "conf"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli(*args, cwd=tmp_path)``: ``python -m trainer.cli *args`` with conf/ from this checkout."""

    def run(*args: str, cwd: Path = tmp_path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TRAINER_CONF_DIR": str(CONF), "COLUMNS": "200", "NO_COLOR": "1"}
        return subprocess.run(
            [sys.executable, "-m", "trainer.cli", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
