"""``trainer train trainer.devices=N``: start the N processes of a DDP run through torchrun.

The command runs itself again as ``python -m torch.distributed.run --standalone
--nproc_per_node=N -m trainer.cli train <the same overrides>``, waits, and returns torchrun's exit
status. torchrun runs in a session of its own, so a Ctrl-C at the terminal reaches it once,
forwarded from here, like a SIGTERM from a scheduler: torchrun passes it on to every process,
which saves the position at the same step and stops (see ``engine.preemption``).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from trainer.engine.device import resolve_device
from trainer.engine.distributed import processes_wanted, torchrun_world

log = logging.getLogger(__name__)


def processes_to_launch(*, strategy: str, devices: int | str, accelerator: str) -> int:
    """How many processes this command must start: 0 when it runs here (one process, or under torchrun).

    Raises:
        ConfigError: the settings are invalid (see ``distributed.processes_wanted``).
    """
    if torchrun_world() is not None:
        return 0  # torchrun started this process; the Trainer checks it against the settings
    wanted = processes_wanted(strategy, devices, resolve_device(accelerator))
    return wanted if wanted > 1 else 0


def torchrun_command(processes: int, args: Sequence[str]) -> list[str]:
    """The command that runs ``trainer <args>`` in ``processes`` processes on this machine."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # one machine: torchrun picks a free port for the rendezvous
        f"--nproc_per_node={processes}",
        "-m",
        "trainer.cli",
        *args,
    ]


def launch(processes: int, args: Sequence[str]) -> int:
    """Run ``trainer <args>`` in ``processes`` processes under torchrun; return its exit status.

    A SIGINT or SIGTERM received here is passed on to torchrun once; the status is then
    ``128 + signal`` (what ``trainer train`` exits with after a signal in one process).
    """
    command = torchrun_command(processes, args)
    log.info("Starting %d processes: %s", processes, shlex.join(command))
    # Each process gets its share of the cores (torchrun would set 1 and print a banner about it).
    env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // processes)), **os.environ}
    child = subprocess.Popen(command, env=env, start_new_session=True)
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        child.send_signal(signum)

    previous: dict[int, Any] = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received and status != 0:
        return 128 + received[0]
    return status
