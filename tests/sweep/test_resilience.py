"""What a long sweep meets: pruning on the default storage, an interrupted process, failing
trials, a time limit. Real sqlite stores in tmp_path and real ``trainer sweep`` processes."""

from __future__ import annotations

import datetime
import io
import signal
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from sweep_helpers import (
    finished_count,
    mlflow_runs,
    sweep_killed_at,
    sweep_process,
    tail,
    trials_of,
    wait_until,
)

from trainer.errors import UserError
from trainer.sweep.config import load_sweep
from trainer.sweep.parent_run import PARENT_ATTR
from trainer.sweep.space import parse_space
from trainer.sweep.stages import run_sweep
from trainer.sweep.trial_budget import counted_trials

SMALL = ["hparams_search=mlp", "hparams_search.params.optimizer.choices=[adam,momentum]"]
PLOTS = {"optimization_history", "param_importances", "parallel_coordinate", "slice", "contour"}


@pytest.mark.slow
def test_default_sqlite_storage_reaches_n_trials_with_pruned_ones_and_parent_plots(
    base: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default storage, sqlite:///optuna.db, lands here
    args = [
        *SMALL,
        "sweep.n_trials=8",
        "sweep.pruner=median",
        "+sweep.pruner_options.n_startup_trials=2",
        "sweep.seed=3",
        *base,
        "trainer.max_epochs=5",
    ]
    [result] = run_sweep(args, stream=io.StringIO())
    study = optuna.load_study(
        study_name="mlp-synthetic_classification", storage=f"sqlite:///{tmp_path}/optuna.db"
    )
    assert len(study.trials) == 8
    assert result.counts["COMPLETE"] + result.counts["PRUNED"] == 8
    assert result.counts["PRUNED"] >= 1 and result.counts["COMPLETE"] >= 3, result.counts
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert all(2 <= t.user_attrs["pruned_epoch"] <= 5 for t in pruned)  # epoch 1 is warm-up
    # The parent run holds the study's images, and each trial is its child.
    runs = mlflow_runs(f"sqlite:///{tmp_path}/mlflow.db")
    [parent] = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = [c for c in children if "sweep.trial" in c.data.tags]
    assert len(trials) == 8 and len(children) == 9  # and the best trial's refit
    assert sum(c.data.tags.get("sweep.state") == "PRUNED" for c in children) == len(pruned)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    images = {Path(f.path).stem for f in client.list_artifacts(parent.info.run_id, "plots")}
    assert images == PLOTS
    local = client.download_artifacts(parent.info.run_id, "plots/optimization_history.png", str(tmp_path))
    assert Path(local).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(local).stat().st_size > 5000


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_rerun_after_an_interrupted_sweep_retries_its_trial_and_stops_at_n_trials(
    base: list[str], tmp_path: Path, stop: signal.Signals
) -> None:
    args = [
        *SMALL,
        "sweep.n_trials=4",
        "sweep.pruner=none",
        "sweep.plots=false",
        "sweep.refit_best=false",
        *base,
    ]
    # Long enough to stop one mid-trial on a fast machine (no early stop), and no longer: each
    # trial's fit ends after 150 epochs or 1.5 s, whichever comes first (the poll looks every 0.2 s).
    args += ["trainer.max_epochs=150", "trainer.max_time=1.5", "callbacks.early_stopping=null"]
    storage = f"sqlite:///{tmp_path}/optuna.db"  # the default, in the process's folder
    log = tmp_path / "sweep.log"
    first = sweep_process(args, cwd=tmp_path, log=log)
    try:
        running: list[int] = []

        def one_done_one_running() -> bool:
            trials = trials_of(storage, "mlp-synthetic_classification")
            # Mid-trial: sampled, with its run folder named. A trial stopped the instant it was
            # created has no parameters yet, and its retry samples new ones (nothing to compare).
            running[:] = [
                t.number
                for t in trials
                if t.state == TrialState.RUNNING and t.params and "run_dir" in t.user_attrs
            ]
            return finished_count(trials) >= 1 and len(running) == 1

        wait_until(one_done_one_running, timeout=240, what=f"a running trial; output:\n{tail(log)}")
        [stopped] = running  # read in the same look as the check: no window for it to finish
        first.send_signal(stop)
        first.wait(timeout=120)
    finally:
        first.kill()
    if stop == signal.SIGINT:  # the advice is to run the same sweep again, not a lone trainer train
        said = tail(log)
        assert "run the same command again: trainer sweep" in said and "ckpt_path" not in said, said
    left = {t.number: t.state for t in trials_of(storage, "mlp-synthetic_classification")}
    # SIGKILL leaves the trial RUNNING; Ctrl-C records it FAIL and queues it again.
    assert left[stopped] == (TrialState.RUNNING if stop == signal.SIGKILL else TrialState.FAIL)

    second = sweep_process(args, cwd=tmp_path, log=log)
    assert second.wait(timeout=400) == 0, tail(log)
    trials = trials_of(storage, "mlp-synthetic_classification")
    assert len(counted_trials(trials)) == 4 and finished_count(trials) == 4
    assert len(trials) == 5  # the stopped trial stays, as FAIL, beside its retry
    original = trials[stopped]
    assert original.state == TrialState.FAIL
    [retry] = [t for t in trials if t.system_attrs.get("retry_history") == [stopped]]
    assert retry.state == TrialState.COMPLETE and retry.params == original.params
    # The second process does not repeat the first one's samples (same seed, fresh sampler).
    assert len({str(t.params) for t in counted_trials(trials)}) == 4
    if stop == signal.SIGKILL:
        assert "worker process died" in original.user_attrs["fail_reason"]
    else:
        assert original.user_attrs["interrupted"] is True
    runs = mlflow_runs(f"sqlite:///{tmp_path}/mlflow.db")
    assert sum(r.data.tags.get("sweep.role") == "parent" for r in runs) == 1  # reopened, not doubled
    # The stopped trial's tracked run is closed KILLED, by the trial itself on Ctrl-C, or from its
    # journal by the process that found it abandoned after SIGKILL: none stays RUNNING.
    # ([]: stopped before its run opened. FINISHED: a SIGKILL that landed after the run had
    # closed, before Optuna heard of the trial's end; its record is whole, and the trial is retried.)
    folder = original.user_attrs["run_dir"]
    stopped_runs = [r for r in runs if r.data.tags.get("run_dir") == folder]
    closed = ([], ["KILLED"], ["FINISHED"]) if stop == signal.SIGKILL else ([], ["KILLED"])
    assert [r.info.status for r in stopped_runs] in closed
    assert not [r for r in runs if r.info.status == "RUNNING"]


@pytest.mark.slow
def test_a_sweep_killed_after_making_its_parent_run_reopens_that_run(base: list[str], tmp_path: Path) -> None:
    """The parent run is made, then its id is written to the study: a kill between the two
    left a parent RUNNING for ever, and the rerun made a second one."""
    args = [
        *SMALL,
        "sweep.n_trials=2",
        "sweep.pruner=none",
        "sweep.plots=false",
        "sweep.refit_best=false",
        *base,
    ]
    log = tmp_path / "sweep.log"
    assert sweep_killed_at(PARENT_ATTR, args, cwd=tmp_path, log=log) == -9, tail(log)
    [made] = mlflow_runs(f"sqlite:///{tmp_path}/mlflow.db")
    assert made.info.status == "RUNNING"

    assert sweep_process(args, cwd=tmp_path, log=log).wait(timeout=400) == 0, tail(log)

    runs = mlflow_runs(f"sqlite:///{tmp_path}/mlflow.db")
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.run_id == made.info.run_id
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep.role"] == "parent"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2 and len(runs) == 3
    assert all(r.info.status == "FINISHED" for r in runs)


def _failing_sweep(base: list[str], storage: str, *, n_trials: int, max_failures: int) -> list[str]:
    return [
        "hparams_search=mlp",
        "sweep.sampler=random",
        "sweep.plots=false",
        f"sweep.n_trials={n_trials}",
        f"sweep.max_failures={max_failures}",
        f"sweep.storage={storage}",
        "sweep.study_name=mf",
        *base,
    ]


def _run(args: list[str]) -> None:
    settings, _, _ = load_sweep(args)
    # Every trial fails; the probe before the first trial skips conditional parameters, so it passes.
    space = parse_space(
        {
            "optimizer": {"type": "group", "choices": ["adam"]},
            "model.activation": {
                "type": "categorical",
                "choices": ["no_such_a"],
                "when": {"optimizer": ["adam"]},
            },
        }
    )
    run_sweep(args, space=space, settings=settings, stream=io.StringIO())


def test_max_failures_counts_the_failures_of_the_whole_study(base: list[str], storage: str) -> None:
    # A first run: 2 failures, under the limit of 3: its budget is reached without an error.
    _run(_failing_sweep(base, storage, n_trials=2, max_failures=3))
    assert [t.state for t in trials_of(storage, "mf")] == [TrialState.FAIL] * 2
    # A second run of the same study: one more failure makes 3 in the study, and it stops.
    with pytest.raises(UserError, match=r"3 trials of this study failed \(sweep.max_failures=3\).*no_such_a"):
        _run(_failing_sweep(base, storage, n_trials=10, max_failures=3))
    assert len(trials_of(storage, "mf")) == 3
    # Re-running it stops before another trial starts.
    with pytest.raises(UserError, match="3 trials of this study failed"):
        _run(_failing_sweep(base, storage, n_trials=10, max_failures=3))
    assert len(trials_of(storage, "mf")) == 3


@pytest.mark.slow
def test_timeout_stops_starting_new_trials(base: list[str], storage: str) -> None:
    args = [
        *SMALL,
        "sweep.n_trials=50",
        "sweep.timeout=6",
        "sweep.plots=false",
        f"sweep.storage={storage}",
        "sweep.study_name=t",
        *base,
    ]
    [result] = run_sweep(args, stream=io.StringIO())
    trials = trials_of(storage, "t")
    assert 2 <= len(trials) < 50
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)  # none left running
    assert sum(result.counts.values()) == len(trials)
    # The clock starts just before the first trial: none starts later than the limit after it.
    starts = sorted(t.datetime_start for t in trials if t.datetime_start is not None)
    assert starts[-1] - starts[0] <= datetime.timedelta(seconds=6.5)
    assert trials[-1].datetime_complete is not None  # the last one ran to its end
