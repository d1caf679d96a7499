"""A Ctrl-C during a trial stops the sweep and queues the trial again, whatever a library made of
the ``KeyboardInterrupt`` on its way out. Real trial loop and SQLite study; only the trial's body is
replaced, by what a library that mishandles the interrupt does."""

from __future__ import annotations

import contextlib
import io
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from trainer.interrupts import safe_interrupts
from trainer.sweep.config import load_sweep
from trainer.sweep.report import LiveReporter
from trainer.sweep.study_factory import create_study
from trainer.sweep.study_loop import TrialLoop
from trainer.sweep.trial_budget import RETRY_ATTR, failed_trials
from trainer.sweep.trial_objective import TrialObjective


def _ctrl_c_now() -> None:
    signal.raise_signal(signal.SIGINT)
    time.sleep(5)  # the interrupt lands here at the latest


class CtrlCBecomesAnotherError(TrialObjective):
    """A Ctrl-C that a library's cleanup replaces with its own error (seen with OmegaConf)."""

    def _run_trial(self, trial: optuna.Trial) -> float:
        self.space.sample(trial)
        try:
            _ctrl_c_now()
        except KeyboardInterrupt:
            raise AttributeError("'NoneType' object has no attribute '_invalidate_flags_cache'") from None
        return 1.0


class CtrlCSwallowed(TrialObjective):
    """A Ctrl-C that a library catches and drops; the trial ends normally."""

    def _run_trial(self, trial: optuna.Trial) -> float:
        self.space.sample(trial)
        with contextlib.suppress(KeyboardInterrupt):
            _ctrl_c_now()
        return 1.0


def _runner(kind: type[TrialObjective], tmp_path: Path) -> TrialLoop:
    settings, space, base = load_sweep(
        ["hparams_search=mlp", "sweep.n_trials=3", f"sweep.storage=sqlite:///{tmp_path}/optuna.db"]
    )
    study = create_study(settings, space)
    reporter = LiveReporter("s", n_trials=3, metrics=settings.metrics, stream=io.StringIO())
    objective = kind(study, settings=settings, space=space, base_overrides=base, parent_run_id=None)
    return TrialLoop(objective, deadline=None, reporter=reporter)


def test_a_ctrl_c_turned_into_another_error_still_stops_and_queues_the_trial(tmp_path: Path) -> None:
    runner = _runner(CtrlCBecomesAnotherError, tmp_path)
    with safe_interrupts(), pytest.raises(KeyboardInterrupt, match="AttributeError"):
        runner.run()
    stopped, retry = runner.study.get_trials()
    assert stopped.state == TrialState.FAIL and stopped.user_attrs["interrupted"] is True
    assert retry.state == TrialState.WAITING and retry.system_attrs[RETRY_ATTR] == [0]
    assert retry.params == stopped.params
    assert failed_trials(runner.study.get_trials()) == []  # an interruption is not a failure


def test_a_swallowed_ctrl_c_stops_the_sweep_after_the_trial(tmp_path: Path) -> None:
    runner = _runner(CtrlCSwallowed, tmp_path)
    with safe_interrupts(), pytest.raises(KeyboardInterrupt):
        runner.run()
    [trial] = runner.study.get_trials()  # it ended normally; no second trial started
    assert trial.state == TrialState.COMPLETE
