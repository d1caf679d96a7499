"""Train the best trial once more with the full record: the study's final model.

Trials record lightly (``sweep.trial_record=light``): validation metrics decide, the test split
stays untouched. When the study ends, the winner's exact ``trainer train`` command runs again in
this process as a child of the parent run, with test metrics, figures, checkpoints and the
packaged model. Seeded training on the same device repeats the trial, so the refit's monitored
value is checked against the trial's: a mismatch is reported (a non-deterministic kernel, or
data that changed since), never hidden.

Of several workers on one study, the one that ran the best trial refits it (a study's user
attributes have no atomic claim, so workers that finish together must not race for it); when
that process is gone (a worker of ``sweep.n_jobs``, or a killed one), any process of the same
machine does. The refit is recorded in the study's ``refit`` user attribute, so a resumed sweep
whose best trial did not change does not train it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from trainer.sweep.trial_config import TrialConfigs
from trainer.sweep.trial_isolation import isolated_trial
from trainer.sweep.trial_recovery import WORKER_ATTR, is_gone_here, worker_identity
from trainer.sweep.trial_value import best_epoch_row
from trainer.tracking.mlflow_location import address_in

REFIT_ATTR = "refit"
#: How far the refit's value may stray from the trial's before it is reported as not reproduced.
REPRODUCE_TOLERANCE = 1e-5


@dataclass
class Refit:
    """The outcome of training the best trial again.

    Attributes:
        trial: the number of the trial that was refit.
        trial_value: its monitored value in the study.
        value: the refit's value of the same metric (NaN if the refit failed).
        metrics: the refit run's metrics (validation and test).
        run_id: the refit's tracked run, if any.
        model_uri: where its packaged model was logged, if it was.
        address: its page in MLflow's training view, if it has one.
        run_dir: its run folder.
        epochs: epochs it trained.
        error: why the refit failed, or "".
    """

    trial: int
    trial_value: float
    value: float = math.nan
    metrics: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    model_uri: str | None = None
    address: str | None = None
    run_dir: str = ""
    epochs: int = 0
    error: str = ""

    @property
    def reproduced(self) -> bool:
        """Whether the refit reached the trial's value (within a small relative tolerance)."""
        return math.isclose(self.value, self.trial_value, rel_tol=REPRODUCE_TOLERANCE, abs_tol=1e-8)

    def lines(self, metric: str) -> list[str]:
        """What the sweep prints about the refit."""
        if self.error:
            return [f"Refit of trial {self.trial} failed: {self.error}"]
        verdict = (
            "reproduced"
            if self.reproduced
            else f"NOT reproduced (trial {self.trial_value:.6g}; non-deterministic kernels or changed data)"
        )
        tested = ", ".join(f"{k}={v:.4g}" for k, v in sorted(self.metrics.items()) if k.startswith("test/"))
        out = [f"Refit of the best trial {self.trial}: {metric}={self.value:.6g}, {verdict}."]
        if tested:
            out.append(f"  test split: {tested}")
        if self.run_id:
            out.append(f"  run {self.run_id}" + (f", model {self.model_uri}" if self.model_uri else ""))
        out.append(f"  folder {self.run_dir}")
        if self.address:
            out.append(f"  open the best run: {self.address}")
        return out


class RefitTags:
    """Callback that tags the refit's run as the study's best, through the run's ``Logger``."""

    def __init__(self, *, study_name: str, trial: int) -> None:
        self.tags = {"sweep.study": study_name, "sweep.role": "best", "sweep.refit_of": trial}

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        trainer.logger.set_tags(self.tags)


def is_refit_here(best: FrozenTrial) -> bool:
    """Whether this process refits ``best``: it ran the trial, or the process that ran it is gone."""
    who = best.user_attrs.get(WORKER_ATTR)
    return who == worker_identity() or is_gone_here(who)


def needs_refit(study: optuna.Study, best: FrozenTrial) -> bool:
    """Whether ``best`` still needs its refit: none recorded for it, or one whose worker died here."""
    done = study.user_attrs.get(REFIT_ATTR)
    if not isinstance(done, dict) or done.get("trial") != best.number:
        return True
    if done.get("state") == "RUNNING":
        return is_gone_here(done.get("worker"))
    return done.get("state") == "FAIL"


def recorded_refit(study: optuna.Study, best: FrozenTrial) -> str:
    """A line about a refit of ``best`` that an earlier run of the sweep completed, or ""."""
    done = study.user_attrs.get(REFIT_ATTR)
    if not isinstance(done, dict) or done.get("trial") != best.number or done.get("state") != "COMPLETE":
        return ""
    model = f", model {done['model_uri']}" if done.get("model_uri") else ""
    return f"The best trial {best.number} was refit earlier: run {done.get('run_id') or '-'}{model}."


def refit_best(
    study: optuna.Study,
    best: FrozenTrial,
    *,
    metric: str,
    direction: str,
    study_name: str,
    base_overrides: Sequence[str],
    parent_run_id: str | None,
) -> Refit:
    """Run the best trial's ``trainer train`` command again, fully recorded, as a child of the parent.

    A failure of the refit is returned in :attr:`Refit.error` (the study itself succeeded);
    Ctrl-C propagates.
    """
    from trainer.reporting import RunOutputs
    from trainer.train import train

    outcome = Refit(trial=best.number, trial_value=float(best.values[0]) if best.values else math.nan)
    study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "RUNNING", "worker": worker_identity()})
    name = f"{study_name}_best".replace("=", "-")
    # Composed as the trial was (the same monitor), so its checkpoint keeps the trial's best epoch.
    configs = TrialConfigs(base_overrides, metric=metric, direction=direction, keep_checkpoints=True)
    try:
        with isolated_trial():
            result = train(
                configs.compose([*best.user_attrs.get("overrides", []), f"run_name={name}"]),
                callbacks=[RefitTags(study_name=study_name, trial=best.number)],
                parent_run_id=parent_run_id,
                outputs=RunOutputs.full(),
            )
    except Exception as exc:  # the study stands; the refit's failure is reported
        outcome.error = f"{type(exc).__name__}: {exc}"[:2000]
        study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "FAIL", "error": outcome.error})
        return outcome
    except BaseException:
        study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "FAIL", "error": "interrupted"})
        raise
    outcome.metrics = dict(result.metrics)
    row = best_epoch_row(result.history, metric=metric, direction=direction)
    outcome.value = float(row[metric]) if row is not None else math.nan
    outcome.run_id = result.tracking_run_id
    outcome.model_uri = result.model_uri
    outcome.address = address_in(result.location)
    outcome.run_dir = str(result.run_dir)
    outcome.epochs = len(result.history)
    study.set_user_attr(
        REFIT_ATTR,
        {
            "trial": best.number,
            "state": "COMPLETE",
            "value": outcome.value,
            "reproduced": outcome.reproduced,
            "run_id": outcome.run_id or "",
            "model_uri": outcome.model_uri or "",
            "run_dir": outcome.run_dir,
        },
    )
    return outcome
