"""Light trials and the refit of the best one: trials are judged on validation only, and the
winner is trained again with the full record (test split, figures, model) under the parent."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import optuna
import psutil
import pytest
from mlflow.tracking import MlflowClient

from trainer.errors import ConfigError
from trainer.sweep.best_refit import REFIT_ATTR, Refit, is_refit_here, needs_refit, recorded_refit
from trainer.sweep.stages import run_sweep
from trainer.sweep.trial_recovery import worker_identity

SMALL = [
    "hparams_search=mlp",
    "hparams_search.params.optimizer.choices=[adam,momentum]",
    "sweep.plots=false",
    "sweep.pruner=none",
]


def _runs(tmp_path: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("trainer")
    return client.search_runs([experiment.experiment_id], max_results=1000)


def _artifacts(tmp_path: Path, run_id: str) -> set[str]:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    return {a.path for a in client.list_artifacts(run_id)}


@pytest.mark.slow
def test_light_trials_then_one_full_refit_of_the_best(base: list[str], storage: str, tmp_path: Path) -> None:
    out = io.StringIO()
    args = [
        *SMALL,
        "sweep.n_trials=3",
        f"sweep.storage={storage}",
        "sweep.study_name=r1",
        *base,
        "logger.log_model=true",
    ]
    [result] = run_sweep(args, stream=out)
    runs = _runs(tmp_path)
    [parent] = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    trials = [r for r in runs if "sweep.trial" in r.data.tags]
    [best_run] = [r for r in runs if r.data.tags.get("sweep.role") == "best"]
    assert len(trials) == 3
    # Trials: validation metrics only; no test split, figures or model.
    for trial in trials:
        assert any(k.startswith("val/") for k in trial.data.metrics)
        assert not any(k.startswith("test/") for k in trial.data.metrics), trial.data.metrics
        assert "figures" not in _artifacts(tmp_path, trial.info.run_id)
        assert "bias_variance" not in trial.data.tags
    # The refit: a child of the parent, the full record, the best trial's value again.
    assert result.refit is not None and not result.refit.error
    best_number = int(parent.data.tags["best.trial"])
    assert best_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert best_run.data.tags["sweep.refit_of"] == str(best_number)
    assert any(k.startswith("test/") for k in best_run.data.metrics)
    assert "figures" in _artifacts(tmp_path, best_run.info.run_id)
    assert parent.data.tags["best.refit_run_id"] == best_run.info.run_id
    assert parent.data.tags["best.refit_reproduced"] == "true"
    assert parent.data.tags["best.model_uri"].startswith("models:/")
    assert "refit/test/loss" in parent.data.metrics
    assert result.refit.value == pytest.approx(result.best_values[0], rel=1e-5)  # type: ignore[index]
    text = out.getvalue()
    assert f"Refit of the best trial {best_number}: val/loss=" in text and "reproduced" in text
    # It ends with the addresses of the best run and of the parent, in MLflow's training view.
    experiment = parent.info.experiment_id
    page = "http://127.0.0.1:5000/#/experiments/{}/runs/{}?workflowType=machine_learning"
    assert f"open the best run: {page.format(experiment, best_run.info.run_id)}" in text
    assert text.rstrip().splitlines()[-1].strip() == f"open: {page.format(experiment, parent.info.run_id)}"
    # The parent's page: the ranked trials linked to their runs, the refit, the reproduce command.
    description = parent.data.tags["mlflow.note.content"]
    by_number = {int(r.data.tags["sweep.trial"]): r for r in trials}
    assert (
        f"| 1 | [{best_number}]({page.format(experiment, by_number[best_number].info.run_id)}) |"
        in description
    )
    assert f"[its run]({page.format(experiment, best_run.info.run_id)})" in description
    assert f"```\n{parent.data.tags['best.command']}\n```" in description
    # Re-running the finished sweep neither trains a trial nor refits again; it says where the refit is.
    again = io.StringIO()
    run_sweep(args, stream=again)
    assert len([r for r in _runs(tmp_path) if r.data.tags.get("sweep.role") == "best"]) == 1
    assert f"was refit earlier: run {best_run.info.run_id}" in again.getvalue()


@pytest.mark.slow
def test_full_trial_record_tests_every_trial_and_needs_no_refit(
    base: list[str], storage: str, tmp_path: Path
) -> None:
    args = [
        *SMALL,
        "sweep.n_trials=2",
        "sweep.trial_record=full",
        f"sweep.storage={storage}",
        "sweep.study_name=r2",
        *base,
    ]
    [result] = run_sweep(args, stream=io.StringIO())
    runs = _runs(tmp_path)
    trials = [r for r in runs if "sweep.trial" in r.data.tags]
    assert len(trials) == 2
    assert all(any(k.startswith("test/") for k in t.data.metrics) for t in trials)
    assert not [r for r in runs if r.data.tags.get("sweep.role") == "best"]
    assert result.refit is None


def test_a_test_metric_with_light_trials_stops_before_the_first_trial(base: list[str], storage: str) -> None:
    args = [*SMALL, "sweep.metric=test/loss", f"sweep.storage={storage}", *base]
    with pytest.raises(ConfigError, match=r"sweep.metric=test/loss.*sweep.trial_record=full"):
        run_sweep(args, stream=io.StringIO())


def test_an_unknown_record_level_is_named(base: list[str], storage: str) -> None:
    with pytest.raises(ConfigError, match=r"sweep.trial_record='some'.*light or full"):
        args = [*SMALL, "sweep.trial_record=some", f"sweep.storage={storage}", *base]
        run_sweep(args, stream=io.StringIO())


def _study_with_best() -> tuple[optuna.Study, optuna.trial.FrozenTrial]:
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    return study, study.best_trial


def test_a_best_trial_without_a_refit_needs_one() -> None:
    study, best = _study_with_best()
    assert needs_refit(study, best)
    study.set_user_attr(REFIT_ATTR, {"trial": best.number + 100, "state": "COMPLETE"})
    assert needs_refit(study, best)  # a refit of another (earlier best) trial does not count


def test_a_completed_or_running_refit_is_not_repeated() -> None:
    study, best = _study_with_best()
    study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "COMPLETE", "run_id": "abc"})
    assert not needs_refit(study, best)
    assert "refit earlier: run abc" in recorded_refit(study, best)
    study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "RUNNING", "worker": worker_identity()})
    assert not needs_refit(study, best)  # this very process is alive: it is refitting


def test_a_refit_whose_worker_died_or_failed_is_done_again() -> None:
    study, best = _study_with_best()
    dead = subprocess.Popen([sys.executable, "-c", "import os; print(os.getpid())"], stdout=subprocess.PIPE)
    dead.wait()
    who = {**worker_identity(), "pid": dead.pid}
    study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "RUNNING", "worker": who})
    assert needs_refit(study, best)
    study.set_user_attr(REFIT_ATTR, {"trial": best.number, "state": "FAIL", "error": "x"})
    assert needs_refit(study, best)
    assert recorded_refit(study, best) == ""


def test_refit_verdict_and_lines() -> None:
    same = Refit(trial=3, trial_value=0.25, value=0.25 * (1 + 1e-7), metrics={"test/loss": 0.3})
    assert same.reproduced
    assert "reproduced" in same.lines("val/loss")[0] and "test/loss=0.3" in same.lines("val/loss")[1]
    drift = Refit(trial=3, trial_value=0.25, value=0.26)
    assert not drift.reproduced and "NOT reproduced" in drift.lines("val/loss")[0]
    failed = Refit(trial=3, trial_value=0.25, error="UserError: boom")
    assert failed.lines("val/loss") == ["Refit of trial 3 failed: UserError: boom"]


def _trial_run_by(who: object) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(value=1.0, user_attrs={"worker": who})


def test_the_worker_that_ran_the_best_trial_refits_it() -> None:
    assert is_refit_here(_trial_run_by(worker_identity()))
    # Another live process of this machine (this one's parent) ran it: it refits, not us.
    parent = psutil.Process(os.getppid())
    alive = {**worker_identity(), "pid": parent.pid, "started": round(parent.create_time(), 3)}
    assert not is_refit_here(_trial_run_by(alive))
    # Another machine's worker: its liveness is unknown here, so that machine refits.
    assert not is_refit_here(_trial_run_by({**worker_identity(), "host": "elsewhere"}))


def test_a_gone_worker_leaves_the_refit_to_this_process() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert is_refit_here(_trial_run_by({**worker_identity(), "pid": dead.pid}))
