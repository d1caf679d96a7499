"""The trial loop of one process: ask for a trial, run it, print its line, until the budget.

Every process that works on a study (the one ``trainer sweep`` started, each worker of
``sweep.n_jobs``, each machine on a shared storage) runs this loop. Before each trial it fails
and re-queues the trials whose worker is gone and stops at ``sweep.max_failures``; when the
budget is taken but trials still run elsewhere, it waits for them (one may die and need its
retry run here).
"""

from __future__ import annotations

import functools
import gc
import logging
import time

from optuna.trial import TrialState

from trainer.interrupts import interrupts_received
from trainer.sweep import optuna_private
from trainer.sweep.report import LiveReporter
from trainer.sweep.study_factory import quiet_optuna
from trainer.sweep.trial_budget import SURPLUS_ATTR, check_failures, counted_trials
from trainer.sweep.trial_objective import TrialObjective
from trainer.sweep.trial_recovery import INTERRUPTED_ATTR, recover_abandoned, requeue, waits_on

log = logging.getLogger(__name__)


#: Trials between two full garbage collections. After every trial (Optuna's gc_after_trial) it
#: cost 0.3 s of CPU a trial with torch loaded, half of a small trial; never, memory grew by
#: about 0.4 MB a trial (cycles reach the oldest generation, open files among them). Every tenth
#: bounds both, and one more when the loop ends leaves the process as the study found it.
COLLECT_EVERY = 10


class TrialLoop:
    """Runs trials of one study in this process until the study holds its budget.

    Args:
        objective: what each trial runs (it knows the study, the settings and the budget).
        deadline: ``time.monotonic()`` after which no trial starts, or None.
        reporter: prints the live line.
    """

    def __init__(self, objective: TrialObjective, *, deadline: float | None, reporter: LiveReporter) -> None:
        self.objective = objective
        self.study = objective.study
        self.settings = objective.settings
        self.deadline = deadline
        self.reporter = reporter
        self._trials_run = 0

    def run(self) -> None:
        """Run trials until the budget, the deadline or ``max_failures`` stops it.

        Raises:
            UserError: the study holds ``max_failures`` failed trials (all workers and runs of
                the sweep together); the message gives the last reason.
            KeyboardInterrupt: Ctrl-C; the interrupted trial is queued again first.
        """
        heartbeat = optuna_private.heartbeat_enabled(self.study)
        try:
            self._run(heartbeat)
        finally:
            gc.collect()  # what the last trials left in cycles (open files among it) goes with the loop

    def _run(self, heartbeat: bool) -> None:
        with quiet_optuna():
            while True:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    break
                recover_abandoned(self.study)
                trials = self.study.get_trials(deepcopy=False)
                check_failures(trials, self.settings.max_failures)
                counted = counted_trials(trials)
                queued = any(t.state == TrialState.WAITING for t in counted)
                if len(counted) >= self.objective.n_trials and not queued:
                    running = [t for t in counted if t.state == TrialState.RUNNING]
                    if any(waits_on(t, heartbeat=heartbeat) for t in running):
                        time.sleep(self.poll_seconds)
                        continue
                    break
                if not self._one_trial():
                    break

    def _one_trial(self) -> bool:
        """Run one trial and print its line; False when the study has no more to give."""
        numbers: list[int] = []
        seen = interrupts_received()
        try:
            self.study.optimize(
                functools.partial(self.objective, numbers=numbers),
                n_trials=1,
                catch=(Exception,),
                gc_after_trial=False,  # every COLLECT_EVERY trials instead, below
            )
        except KeyboardInterrupt:
            self._requeue_interrupted(numbers)
            raise
        if interrupts_received() != seen:
            raise KeyboardInterrupt  # swallowed by a library; the trial itself ended
        self._trials_run += 1
        if self._trials_run % COLLECT_EVERY == 0:
            gc.collect()
        if not numbers:
            return False  # the sampler stopped the study (a finished grid)
        frozen = optuna_private.trial_by_number(self.study, numbers[0])
        if frozen.user_attrs.get(SURPLUS_ATTR):
            return False
        self.reporter.line(self.study, frozen)
        return True

    @property
    def poll_seconds(self) -> float:
        """How often to look again while other workers' trials run."""
        return float(min(2.0, max(0.2, self.settings.heartbeat_interval / 2)))

    def _requeue_interrupted(self, numbers: list[int]) -> None:
        """Ctrl-C: Optuna has recorded the trial as FAIL; queue it again so that re-running the
        sweep runs it (an interruption is not a failure of the trial and does not count as one).

        Never raises: the Ctrl-C that brought us here is what the caller must see.
        """
        if not numbers:
            return
        try:
            frozen = optuna_private.trial_by_number(self.study, numbers[0])
            if frozen.state == TrialState.FAIL and frozen.user_attrs.get(INTERRUPTED_ATTR):
                requeue(self.study, frozen, reason="interrupted")
        except Exception as exc:  # a storage that went away with the interruption
            log.warning("Trial %d could not be queued again (%s); a rerun samples anew.", numbers[0], exc)
