"""How many threads torch uses for one CPU operation while a small model trains.

torch starts with one intra-op thread per core. The matrices of a small network (a tabular MLP of
a few ten thousand weights) are too small to split: measured on 2 cores, a step of a 20k-weight
MLP took the same wall time (0.50 vs 0.51-0.61 ms at batch 32, 0.81 vs 0.90-1.00 ms at 256) with
one thread and half the CPU time, the second thread only spinning. ``trainer.cpu_threads=auto``
trains models under :data:`SMALL_MODEL_PARAMETERS` weights on the CPU with one thread, and leaves
torch's setting for larger ones, on accelerators, in runs of several processes, and wherever
``OMP_NUM_THREADS`` says otherwise (a user's choice, torchrun's split between processes). A number
sets it for any model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from trainer.errors import ConfigError

#: Below this many weights a model trains on one CPU thread under ``cpu_threads=auto``.
SMALL_MODEL_PARAMETERS = 100_000


def check_cpu_threads(setting: int | str) -> None:
    """``auto`` or a whole number of 1 or more."""
    if setting == "auto" or (isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1):
        return
    raise ConfigError(f"trainer.cpu_threads={setting!r} must be auto or a whole number of 1 or more.")


def choose_cpu_threads(
    setting: int | str, *, device: torch.device, parameters: int, processes: int = 1
) -> int | None:
    """The thread count for training ``parameters`` weights on ``device``; None leaves torch's.

    ``auto`` leaves a run of several processes alone: its launcher splits the cores between them.
    """
    if device.type != "cpu":
        return None
    if setting != "auto":
        return int(setting)
    if os.environ.get("OMP_NUM_THREADS") or processes > 1 or parameters >= SMALL_MODEL_PARAMETERS:
        return None
    return 1


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` intra-op threads for the block (None: as they are); restored after."""
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
