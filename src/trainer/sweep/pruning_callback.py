"""The callback that reports each validation to the Optuna trial and prunes bad trials.

Optuna's own pattern: ``trial.report(value, epoch)``; ``if trial.should_prune(): raise
TrialPruned``. It also tags the trial's tracked run with the study, the trial number, its state
and the epoch at which it was pruned, through the run's ``Logger`` only.
"""

from __future__ import annotations

import math
from typing import Any

import optuna

from trainer.errors import ConfigError, RunStopped
from trainer.sweep.dashboard_note import save_trial_note


class SweepTrialPruned(optuna.TrialPruned, RunStopped):
    """Raised to stop a pruned trial: Optuna records it as PRUNED, ``train()`` closes the run
    FINISHED (pruning is the study working as meant, not a kill or a failure: MLflow shows KILLED
    in red), tagged ``sweep.state=PRUNED`` with ``sweep.pruned_epoch``."""

    run_status = "FINISHED"


class PruningCallback:
    """Report ``monitor`` after each validation; stop the fit when the pruner says so.

    Args:
        trial: the Optuna trial being run.
        monitor: validation metric to report (``val/loss``).
        study_name: recorded as a tag of the trial's run.
        prune: whether to ask the pruner (False for multi-objective studies, which Optuna cannot prune).
    """

    def __init__(self, trial: optuna.Trial, *, monitor: str, study_name: str, prune: bool = True) -> None:
        self.trial = trial
        self.monitor = monitor
        self.study_name = study_name
        self.prune = prune
        self.pruned_epoch: int | None = None
        self.last_epoch = 0

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        # Known before the trial ends: the table links it, whatever becomes of the trial.
        run_id = trainer.logger.run_id
        if run_id:
            self.trial.set_user_attr("run_id", run_id)
        address = trainer.logger.run_address(run_id) if run_id else None
        save_trial_note(self.trial, run_id=run_id, address=address)
        trainer.logger.set_tags(
            {"sweep.study": self.study_name, "sweep.trial": self.trial.number, "sweep.state": "RUNNING"}
        )

    def on_validation_end(self, trainer: Any, module: Any, metrics: dict[str, float]) -> None:
        epoch = int(trainer.current_epoch) + 1  # the Trainer counts epochs completed before this one
        self.last_epoch = epoch
        if self.monitor not in metrics:
            raise ConfigError(
                f"sweep.metric={self.monitor} is not among the validation metrics: "
                f"{', '.join(sorted(metrics))}."
            )
        value = float(metrics[self.monitor])
        if not self.prune or not math.isfinite(value):
            return  # a NaN value is the loss watcher's business: the trial fails with its reason
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            trainer.logger.set_tags({"sweep.state": "PRUNED", "sweep.pruned_epoch": epoch})
            raise SweepTrialPruned(f"pruned at epoch {epoch} with {self.monitor}={value:.6g}")

    def on_fit_end(self, trainer: Any, module: Any) -> None:
        trainer.logger.set_tags({"sweep.state": "COMPLETE"})

    def on_exception(self, trainer: Any, module: Any, exception: BaseException) -> None:
        if not isinstance(exception, optuna.TrialPruned):
            trainer.logger.set_tags({"sweep.state": "FAIL"})
