"""``trainer ... | head -1``: a reader that stops reading ends the command quietly, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from trainer.cli import EXIT_BROKEN_PIPE

from .conftest import CONF


@pytest.mark.parametrize("args", [("--help",), ("train", "--help"), ("train", "--cfg"), ("eval", "--cfg")])
def test_a_closed_stdout_ends_the_command_quietly(args: tuple[str, ...]) -> None:
    env = {**os.environ, "TRAINER_CONF_DIR": str(CONF)}
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    # The reader goes away before the command writes (Python takes far longer to start):
    # every write to stdout then fails with EPIPE, as after `head -1` has its line.
    process.stdout.close()
    stderr = process.stderr.read().decode()
    status = process.wait(timeout=120)
    assert stderr == "", stderr
    assert status == EXIT_BROKEN_PIPE
