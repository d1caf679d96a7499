"""One trial: sample its parameters, compose its config, train it, record what it gave.

The objective composes ``train.yaml`` with the sweep's overrides plus the trial's sampled ones
(``trial_config``) and calls the same ``train()`` that ``trainer train`` calls, with the pruning
callback, a parent run to nest under and the record level of ``sweep.trial_record``. The trial's
value is its best epoch's (``trial_value``). A Ctrl-C at any point marks the trial interrupted
(it is queued again, not counted as a failure).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import optuna
from omegaconf import open_dict

from trainer.engine.divergence import divergence
from trainer.interrupts import interrupts_received
from trainer.reporting import RunOutputs
from trainer.run_dir import unused_run_dir
from trainer.sweep.pruning_callback import PruningCallback
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace
from trainer.sweep.trial_budget import SURPLUS_ATTR, effective_n_trials, is_surplus
from trainer.sweep.trial_config import TrialConfigs
from trainer.sweep.trial_isolation import isolated_trial
from trainer.sweep.trial_recovery import INTERRUPTED_ATTR, WORKER_ATTR, worker_identity
from trainer.sweep.trial_value import best_epoch_row


class TrialObjective:
    """The function Optuna calls for each trial of one study.

    Args:
        study: the study the trials belong to.
        settings: the sweep settings.
        space: the search space.
        base_overrides: overrides applied to every trial (the user's, without ``sweep.*``).
        parent_run_id: the tracker run that trials nest under.
    """

    def __init__(
        self,
        study: optuna.Study,
        *,
        settings: SweepSettings,
        space: SearchSpace,
        base_overrides: Sequence[str],
        parent_run_id: str | None,
    ) -> None:
        self.study = study
        self.settings = settings
        self.space = space
        self.base_overrides = list(base_overrides)
        self.parent_run_id = parent_run_id
        self.n_trials = effective_n_trials(settings, space)
        self.configs = TrialConfigs(
            base_overrides,
            metric=settings.metrics[0],
            direction=settings.directions[0],
            keep_checkpoints=not settings.light_trials,
        )

    def __call__(self, trial: optuna.Trial, *, numbers: list[int]) -> float | list[float]:
        """Sample, compose, train, and return the monitored metric(s); ``numbers`` gets the
        trial's number first thing (the caller needs it even when the trial is interrupted)."""
        numbers.append(trial.number)
        seen = interrupts_received()
        try:
            return self._run_trial(trial)
        except KeyboardInterrupt:  # at any point of the trial: queued again, not a failure of it
            _mark_interrupted(trial)
            raise
        except Exception as exc:
            if interrupts_received() == seen:
                raise
            # A Ctrl-C that a library turned into another error on its way out: still a Ctrl-C.
            # Optuna would take the error for a failure of the trial and run the next one.
            _mark_interrupted(trial)
            raise KeyboardInterrupt(f"interrupted ({type(exc).__name__}: {exc})") from exc

    def _run_trial(self, trial: optuna.Trial) -> float | list[float]:
        from trainer.train import train

        if is_surplus(self.study.get_trials(deepcopy=False), trial.number, n_trials=self.n_trials):
            trial.set_user_attr(SURPLUS_ATTR, True)  # another worker took the last ticket
            raise optuna.TrialPruned("surplus")
        trial.set_user_attr(WORKER_ATTR, worker_identity())
        values = self.space.sample(trial)
        overrides = self.space.overrides(values)
        trial.set_user_attr("overrides", overrides)
        name = f"{self.settings.study_name}_t{trial.number:03d}".replace("=", "-")
        pruning = PruningCallback(
            trial,
            monitor=self.settings.metrics[0],
            study_name=self.settings.study_name,
            prune=self.settings.prunes,
        )
        try:
            overrides = self.configs.with_monitor(overrides)  # the trial's command reproduces it
            trial.set_user_attr("overrides", overrides)
            composed = self.configs.compose([*overrides, f"run_name={name}"])
            # The folder is named before training, so that a worker that finds this trial abandoned
            # can close its tracked run from the folder's journal (``trial_recovery.close_abandoned_run``).
            run_dir = unused_run_dir(composed.cfg.paths.runs_dir, name)
            with open_dict(composed.cfg):
                composed.cfg.paths.run_dir = str(run_dir)
            trial.set_user_attr("run_dir", str(run_dir))
            outputs = RunOutputs.light() if self.settings.light_trials else RunOutputs.full()
            with isolated_trial():
                result = train(
                    composed, callbacks=[pruning], parent_run_id=self.parent_run_id, outputs=outputs
                )
        except optuna.TrialPruned:
            trial.set_user_attr("pruned_epoch", pruning.pruned_epoch)
            trial.set_user_attr("epochs", pruning.last_epoch)
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}"[:2000])
            raise
        trial.set_user_attr("run_id", result.tracking_run_id)
        trial.set_user_attr("run_dir", str(result.run_dir))
        trial.set_user_attr("epochs", len(result.history))
        diverged = divergence(result.history)
        if diverged is not None:  # a finite value, but not one the sampler should learn from
            trial.set_user_attr("fail_reason", diverged)
            raise ValueError(diverged)
        # The epoch the checkpoint keeps, not the last one (trial_value).
        row = best_epoch_row(
            result.history, metric=self.settings.metrics[0], direction=self.settings.directions[0]
        )
        out = []
        for metric in self.settings.metrics:
            value = row.get(metric) if row is not None else result.metrics.get(metric)
            if value is None or not math.isfinite(value):
                reason = f"{metric}={value} is not a finite number"
                trial.set_user_attr("fail_reason", reason)
                raise ValueError(reason)
            out.append(float(value))
        if row is not None:
            trial.set_user_attr("best_epoch", math.ceil(row["epoch"]))  # epochs done, counted from 1
        return out[0] if len(out) == 1 else out


def _mark_interrupted(trial: optuna.Trial) -> None:
    """Record on ``trial`` that Ctrl-C stopped it (it is queued again, not counted as failed).

    Never raises: a storage error here must not replace the interrupt, or Optuna would take it
    for an ordinary failure of the trial (counted against ``max_failures``) and run the next one.
    """
    with contextlib.suppress(Exception):
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        trial.set_user_attr("fail_reason", "interrupted (Ctrl-C); queued again")
