"""Which trials count toward a study's budget, and what happens to trials left behind.

Trials are numbered densely by the storage, so a trial's number is a ticket: a trial whose
number comes after ``n_trials`` counted ones is surplus (two workers asked at the same moment)
and is closed at once without training. A trial a dead worker left behind is failed and
re-queued once (its parameters, as a WAITING trial); only the retry counts. A worker is known to
be dead when its process on this host is gone (``worker`` user attribute), or when its
heartbeat on an RDB storage is older than the grace period (Optuna's ``fail_stale_trials``).
A trial stopped by Ctrl-C is re-queued the same way, so re-running the sweep resumes it. The
tracked run of a trial whose process died here is closed KILLED from its run folder's journal,
with every record the process had journaled (as ``trainer upload`` does).
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
import psutil
from optuna.trial import FrozenTrial, TrialState

from trainer.errors import UserError

log = logging.getLogger(__name__)

SURPLUS_ATTR = "sweep_surplus"
WORKER_ATTR = "worker"
INTERRUPTED_ATTR = "interrupted"
RETRY_ATTR = "retry_history"
RETRY_REASON_ATTR = "retry_reason"


def counted_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that count toward ``n_trials``: all but surplus ones and failures that were retried."""
    trials = list(trials)
    retried = {n for t in trials for n in t.system_attrs.get(RETRY_ATTR, [])}
    return [
        t
        for t in trials
        if not t.user_attrs.get(SURPLUS_ATTR) and not (t.state == TrialState.FAIL and t.number in retried)
    ]


def state_counts(trials: Iterable[FrozenTrial]) -> Counter[str]:
    """Counted trials by state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    counts: Counter[str] = Counter({s.name: 0 for s in TrialState})
    counts.update(t.state.name for t in counted_trials(trials))
    return counts


def failed_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """The study's counted FAIL trials (all workers, all runs of the sweep): what
    ``sweep.max_failures`` limits. A trial that was retried is not among them."""
    return [t for t in counted_trials(trials) if t.state == TrialState.FAIL]


def is_surplus(trials: Iterable[FrozenTrial], number: int, *, n_trials: int) -> bool:
    """Whether trial ``number`` comes after ``n_trials`` counted trials with smaller numbers."""
    earlier = [t for t in counted_trials(trials) if t.number < number]
    return len(earlier) >= n_trials


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
    from optuna.storages._heartbeat import fail_stale_trials, is_heartbeat_enabled

    failed = []
    reason = "its worker process died"
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_dead_here(trial):
            continue
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            if not study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        RetryStaleTrial(max_retry=1, reason=reason)(study, study._storage.get_trial(trial._trial_id))
        close_abandoned_run(trial)
        failed.append(trial.number)
    if is_heartbeat_enabled(study._storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)  # runs the storage's retry callback on each
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


def check_failures(trials: Iterable[FrozenTrial], limit: int | None) -> None:
    """Stop the sweep when the study holds ``limit`` failed trials, whichever worker or run of
    the sweep failed them.

    Raises:
        UserError: naming the count, the limit and the last failure's reason.
    """
    failed = failed_trials(trials)
    if limit is None or len(failed) < limit:
        return
    last = max(failed, key=lambda t: t.number)
    raise UserError(
        f"{len(failed)} trials of this study failed (sweep.max_failures={limit}); the last one, "
        f"trial {last.number}: {last.user_attrs.get('fail_reason', 'no reason recorded')}. "
        "Fix the cause, then raise sweep.max_failures or start a new sweep.study_name."
    )
