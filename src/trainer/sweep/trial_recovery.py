"""Trials left behind: who runs a trial, and re-queuing the ones whose worker is gone.

A trial a dead worker left behind is failed and re-queued once (its parameters, as a WAITING
trial); only the retry counts (``trial_budget``). A worker is known to be dead when its process
on this host is gone (``worker`` user attribute), or when its heartbeat on an RDB storage is
older than the grace period (Optuna's ``fail_stale_trials``). A trial stopped by Ctrl-C is
re-queued the same way, so re-running the sweep resumes it. The tracked run of a trial whose
process died here is closed KILLED from its run folder's journal, with every record the process
had journaled (as ``trainer upload`` does).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import optuna
import psutil
from optuna.trial import FrozenTrial, TrialState

from trainer.sweep import optuna_private
from trainer.sweep.trial_budget import RETRY_ATTR

log = logging.getLogger(__name__)

WORKER_ATTR = "worker"
INTERRUPTED_ATTR = "interrupted"
RETRY_REASON_ATTR = "retry_reason"


def _place() -> dict[str, str]:
    """Where process ids mean the same process: this host and its process namespace (two
    containers may share a host name, never a pid namespace)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return {"host": socket.gethostname(), "pidns": namespace}


def worker_identity() -> dict[str, Any]:
    """Who runs a trial: host, pid namespace, process id and the process's start time (pids
    are reused)."""
    return {**_place(), "pid": os.getpid(), "started": round(psutil.Process().create_time(), 3)}


def _is_here(who: Any) -> bool:
    return isinstance(who, dict) and all(who.get(k) == v for k, v in _place().items())


def is_dead_here(trial: FrozenTrial) -> bool:
    """Whether ``trial`` was run by a process of this host (and pid namespace) that no longer exists."""
    return is_gone_here(trial.user_attrs.get(WORKER_ATTR))


def is_gone_here(who: Any) -> bool:
    """Whether the worker ``who`` (a :func:`worker_identity`) was a process of this host that no
    longer exists; False for another host's worker (its liveness is not known here)."""
    if not isinstance(who, dict) or not _is_here(who):
        return False
    try:
        process = psutil.Process(int(who["pid"]))
        return abs(process.create_time() - float(who["started"])) > 0.01 or process.status() == "zombie"
    except (psutil.NoSuchProcess, KeyError, ValueError, TypeError):
        return True
    except psutil.Error:
        return False


def requeue(study: optuna.Study, trial: FrozenTrial, *, reason: str) -> None:
    """Queue a WAITING copy of ``trial`` (same parameters); the copy's ``retry_history`` names
    it, so the failed original no longer counts. Used for Ctrl-C and for dead workers.

    The copy is what Optuna's ``RetryHeartbeatStaleTrialCallback`` makes, without the original's
    worker, failure reason and interruption mark (the retry has its own), and with ``reason``
    as its ``retry_reason`` system attribute (a finished trial's attributes cannot change).
    """
    system_attrs: dict[str, Any] = {"failed_trial": trial.number, **trial.system_attrs}
    system_attrs[RETRY_REASON_ATTR] = reason
    system_attrs[RETRY_ATTR] = [*trial.system_attrs.get(RETRY_ATTR, []), trial.number]
    user_attrs = {
        k: v
        for k, v in trial.user_attrs.items()
        if k not in (WORKER_ATTR, INTERRUPTED_ATTR, "fail_reason", "run_id", "run_dir")
    }
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=user_attrs,
            system_attrs=system_attrs,
        )
    )


def recover_abandoned(study: optuna.Study) -> list[int]:
    """Fail and re-queue the RUNNING trials whose worker is gone: a process of this host that
    no longer exists (at once), or a silent heartbeat past the grace period (RDB storages).

    Returns:
        Numbers of the trials failed here.
    """
    failed = []
    reason = "its worker process died"
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_dead_here(trial):
            continue
        stored = optuna_private.fail_trial(study, trial, reason=reason)
        if stored is None:
            continue
        RetryStaleTrial(max_retry=1, reason=reason)(study, stored)
        close_abandoned_run(trial)
        failed.append(trial.number)
    optuna_private.fail_stale_trials(study)  # runs the storage's retry callback on each
    return failed


def close_abandoned_run(trial: FrozenTrial) -> None:
    """Close the tracked run of a trial whose process died on this machine: deliver what its
    journal holds and end it KILLED. Best effort: a failure is logged, the sweep goes on."""
    from trainer.tracking.journal import JOURNAL_NAME
    from trainer.tracking.upload import upload_journal

    run_dir = trial.user_attrs.get("run_dir")
    if not run_dir or not (Path(run_dir) / JOURNAL_NAME).is_file():
        return  # no tracked run (logger=none), or the trial died before its run opened
    try:
        upload_journal(run_dir)
    except Exception as exc:  # the run stays RUNNING in the tracker; `trainer upload` can retry
        log.warning("Could not close the tracked run of abandoned trial %d: %s", trial.number, exc)


def waits_on(trial: FrozenTrial, *, heartbeat: bool) -> bool:
    """Whether a RUNNING trial will end by itself or be recovered: its worker is alive here, or
    the storage's heartbeat will fail it when its worker is gone."""
    return heartbeat or _is_here(trial.user_attrs.get(WORKER_ATTR))


class RetryStaleTrial:
    """The storage's ``heartbeat_stale_trial_callback``: re-queue the trial with
    :func:`requeue`, at most ``max_retry`` times per original trial.

    Args:
        max_retry: retries per original trial.
        reason: why the trial failed, recorded as the retry's ``retry_reason``.
    """

    def __init__(self, *, max_retry: int = 1, reason: str = "its worker stopped sending heartbeats") -> None:
        self.max_retry = max_retry
        self.reason = reason

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Queue a retry of ``trial`` (just failed) if it has retries left, with the reason."""
        if len(trial.system_attrs.get(RETRY_ATTR, [])) < self.max_retry:
            requeue(study, trial, reason=self.reason)
