"""Fits the study's ensemble members on every core: one worker process per core, each fitting
one small network at a time on one thread.

The networks of a fraud study are small: one of them keeps one core busy and a second thread
would only spin (see :mod:`trainer.engine.cpu_threads`). Fitting the members one after another
left every other core idle; a pool of processes fits as many at once as there are cores, and
the study asks for the results in its own order. With one worker nothing is started: a member
is fitted in the study's process when its result is asked for, as before.

Workers are forked where the platform can (Linux), as torch's DataLoader forks its workers: a
forked worker starts at once, where a spawned one spends seconds importing torch and the
project again. Like DataLoader's, each sets torch to its share of the cores' threads; the pool
is started before the study opens any store or thread of its own. Elsewhere they are spawned.
Workers ignore Ctrl-C (the study handles it and stops them) and never open a tracking store
(:class:`~trainer.fraud.member_fit.RecordingLogger`).
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from types import TracebackType

import torch

from trainer.fraud.member_fit import MemberFit, MemberJob, fit_member


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Under ``auto``, fewer fits than this run in the study's process: starting a worker costs
#: seconds (it imports torch and the project), more than a few small fits gain.
MIN_FITS_FOR_WORKERS = 4


def choose_workers(setting: int | str, *, jobs: int, device: str = "cpu") -> int:
    """``auto``: one worker per available core, at most one per job, none for a few fits or
    when the networks train on an accelerator (``device``: cuda, mps), which one process
    keeps busy; a number is taken as it is."""
    if setting == "auto":
        if jobs < MIN_FITS_FOR_WORKERS or device != "cpu":
            return 1
        return max(1, min(available_cores(), jobs))
    return max(1, int(setting))


def _start_worker(threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the study's process stops the pool on Ctrl-C
    torch.set_num_threads(threads)


def _ready() -> None:
    """A job that does nothing: asking for it makes the pool start its processes."""


class WorkerStopped(RuntimeError):
    """A worker process ended without giving its fit back."""


class _InProcess:
    """A member fitted in this process when its result is first asked for."""

    def __init__(self, job: MemberJob) -> None:
        self.job = job
        self._fit: MemberFit | None = None

    def result(self) -> MemberFit:
        if self._fit is None:
            self._fit = fit_member(self.job)
        return self._fit


class MemberPool:
    """Fits :class:`MemberJob` s in ``workers`` processes (1: lazily in this process).

    Use as a context manager; leaving it stops every worker, finished or not.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        if workers > 1:
            threads = max(1, available_cores() // workers)
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=get_context("fork" if "fork" in get_all_start_methods() else "spawn"),
                initializer=_start_worker,
                initargs=(threads,),
            )

    def start(self) -> None:
        """Start every worker now (each imports torch and the project: seconds), not at the
        first job."""
        if self._executor is not None:
            for _ in range(self.workers):  # the pool starts a process per job it has no idle one for
                self._executor.submit(_ready)

    def submit(self, job: MemberJob) -> Future[MemberFit] | _InProcess:
        """Queue ``job``; its ``result()`` waits for the fit (or runs it, with one worker)."""
        if self._executor is None:
            return _InProcess(job)
        # The tensors reach the worker through shared memory, and moving a tensor there replaces
        # its storage. Done here, before the job is queued, not by the pool's feeder thread
        # while this process goes on reading the same rows (a sampler resampling them read a
        # storage being freed, and saw garbage).
        for tensor in (*job.train, *job.val):
            tensor.share_memory_()
        return self._executor.submit(fit_member, job)

    def close(self) -> None:
        """Stop the workers; a fit still running is abandoned (its result is never read)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # Python 3.11 has no public way to stop a running task; killing the processes is what an
        # interrupted study needs (SIGTERM would only ask the Trainer in them to stop at its
        # next step, as a preempted run does). The pool's own thread then reaps them: waiting
        # for them here as well would race it for each exit status.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            if process.is_alive():
                process.kill()
        executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> MemberPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
