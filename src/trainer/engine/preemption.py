"""Stop cleanly when a scheduler or a spot instance sends SIGTERM, or the user presses Ctrl-C.

While ``fit`` runs, SIGTERM and SIGINT only set a flag; the Trainer reads it after each
optimizer step (one attribute read), saves a checkpoint of that exact position and raises
:class:`Preempted`. A second signal of the same kind is not caught again: it does what it did
before ``fit`` (Ctrl-C twice interrupts at once; a second SIGTERM ends the process).

Exit codes of ``trainer train`` (``cli.py``): 128 + the signal number, the shell's convention
for "terminated by a signal", so 143 after SIGTERM and 130 after SIGINT, with a resumable
checkpoint saved in both cases.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

#: The signals a preemption arrives as (SIGTERM from Slurm, Kubernetes, spot reclaim; SIGINT from Ctrl-C).
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(KeyboardInterrupt):
    """``fit`` stopped on a signal, after saving a checkpoint to resume from.

    A :class:`KeyboardInterrupt`, so it passes every ``except Exception`` (a sweep's trial
    runner must not take it for a failed trial and go on) and callers that already stop on
    Ctrl-C stop on it too.

    Attributes:
        signum: the signal that arrived.
        checkpoint: the checkpoint written at the stop, or ``None`` when none could be (fast_dev_run).
        exit_code: ``128 + signum``, what the CLI exits with.
    """

    def __init__(self, signum: int, checkpoint: Path | None) -> None:
        self.signum = signum
        self.checkpoint = checkpoint
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        where = f"; resume with ckpt_path={checkpoint}" if checkpoint else ""
        super().__init__(f"Stopped on {name} at a step boundary{where}")


class Preemption:
    """Context manager that turns SIGTERM and SIGINT into a flag for the life of the block.

    Handlers are installed only on the main thread (Python allows no other) and the previous
    ones are put back on exit, so many fits can run in one process (sweep trials).

    Args:
        deferred: only record the signal in ``received``; the caller sets ``signum`` once the
            processes of a DDP run agree on it, or ranks would stop at different steps and the
            others would wait for them forever. The handler also stays: a Ctrl-C at a terminal
            reaches each process twice, from the terminal and again from torchrun, and the second
            must not cut the save short (torchrun kills what has not stopped 30 s later).

    Attributes:
        signum: the signal the loop acts on, 0 while none.
        received: the first signal this process received, 0 while none.
    """

    def __init__(self, *, deferred: bool = False) -> None:
        self.deferred = deferred
        self.signum = 0
        self.received = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Preemption:
        self.signum = self.received = 0
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        if exc_type is None and self.signum and not self.deferred:
            # Arrived after the Trainer's last look at the flag (the few instructions before
            # this exit): deliver it again to the handler of before, as if it came now. Never
            # in DDP (``deferred``): one rank stopping alone would leave the others waiting.
            signal.raise_signal(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: the loop saves at the next step boundary, where the state is consistent.
        self.received = self.received or signum
        if self.deferred:
            return
        self.signum = signum
        previous = self._previous.get(signum)
        # The next one of the same kind is not caught again: a second Ctrl-C interrupts at once.
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
