"""End-to-end sweeps through the real train(): sqlite Optuna and MLflow stores in tmp_path."""

from __future__ import annotations

import importlib.util
import io
import os
import socket
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from trainer.errors import ConfigError
from trainer.sweep.command import multirun_command
from trainer.sweep.config import load_sweep
from trainer.sweep.space import parse_space
from trainer.sweep.stages import run_sweep
from trainer.sweep.storage import normalize_url

SMALL = [
    "hparams_search=mlp",
    "hparams_search.params.optimizer.choices=[adam,momentum]",
    "sweep.plots=false",
]


def _run_with_space(args: list[str], params: dict, **kw: object) -> list:
    settings, _, _ = load_sweep(args)
    return run_sweep(args, space=parse_space(params), settings=settings, **kw)  # type: ignore[arg-type]


def _load(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage)


def _runs(tmp_path: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("trainer")
    return client.search_runs([experiment.experiment_id], max_results=1000)


@pytest.mark.slow
def test_sweep_reaches_n_trials_with_parent_and_children_then_resumes(
    base: list[str], storage: str, tmp_path: Path
) -> None:
    out = io.StringIO()
    args = [*SMALL, "sweep.n_trials=2", f"sweep.storage={storage}", "sweep.study_name=s1", *base]
    [result] = run_sweep(args, stream=out)
    assert result.counts["COMPLETE"] == 2
    text = out.getvalue()
    assert f"New study s1 in {storage}." in text
    assert text.count("[s1] trial") == 2 and "ETA" in text
    assert "Reproduce: trainer train data=synthetic_classification" in text
    runs = _runs(tmp_path)
    parents = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    assert len(parents) == 1
    assert parents[0].info.run_name == "sweep s1 on synthetic_classification"
    children = [
        r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id and "sweep.trial" in r.data.tags
    ]
    assert len(children) == 2
    assert {c.data.tags["sweep.trial"] for c in children} == {"0", "1"}
    assert parents[0].data.tags["best.run_id"] in {c.info.run_id for c in children}
    assert "best/val/loss" in parents[0].data.metrics
    # Re-running with a larger budget resumes: 3 in total, one parent run.
    bigger = [a if a != "sweep.n_trials=2" else "sweep.n_trials=3" for a in args]
    again_out = io.StringIO()
    [again] = run_sweep(bigger, stream=again_out)
    assert (
        f"Continuing study s1 in {storage}: 2 trials so far (2 complete), up to 3 in all."
        in again_out.getvalue()
    )
    assert len(_load(storage, "s1").trials) == 3
    assert again.parent_run_id == parents[0].info.run_id
    # Another process that ends on the same study (a worker, a rerun with nothing left to do)
    # records nothing the parent run already holds: each summary metric once per step.
    run_sweep(bigger, stream=io.StringIO())
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    for metric in ("best/val/loss", "trials/complete"):
        history = [(m.step, m.value) for m in client.get_metric_history(parents[0].info.run_id, metric)]
        assert len(history) == len(set(history)) == 2, (metric, history)


@pytest.mark.slow
def test_pruned_trials_are_recorded_as_pruned(base: list[str], storage: str) -> None:
    args = [
        *SMALL,
        "sweep.n_trials=2",
        f"sweep.storage={storage}",
        "sweep.study_name=p",
        "sweep.pruner=threshold",
        "+sweep.pruner_options.upper=0.0",  # every val/loss is above 0: pruned at epoch 1
        *base,
    ]
    [result] = run_sweep(args, stream=io.StringIO())
    assert result.counts["PRUNED"] == 2
    trials = _load(storage, "p").trials
    assert all(t.user_attrs["pruned_epoch"] == 1 for t in trials)
    # In MLflow a pruned trial is finished (not red "Killed"), tagged pruned, with its epoch.
    client = MlflowClient(
        tracking_uri=next(o.split("=", 1)[1] for o in base if o.startswith("logger.tracking_uri"))
    )
    runs = [client.get_run(t.user_attrs["run_id"]) for t in trials]
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
    assert all(
        r.data.tags["sweep.state"] == "PRUNED" and r.data.tags["sweep.pruned_epoch"] == "1" for r in runs
    )


def test_failing_trial_does_not_stop_the_sweep(base: list[str], storage: str) -> None:
    out = io.StringIO()
    args = [
        "hparams_search=mlp",
        "sweep.sampler=grid",
        "sweep.n_trials=2",
        "sweep.plots=false",
        f"sweep.storage={storage}",
        "sweep.study_name=f",
        *base,
    ]
    params = {"model.activation": {"type": "categorical", "choices": ["relu", "no_such_activation"]}}
    [result] = _run_with_space(args, params, stream=out)
    assert (result.counts["COMPLETE"], result.counts["FAIL"]) == (1, 1)
    failed = [t for t in _load(storage, "f").trials if t.state.name == "FAIL"]
    assert "no_such_activation" in failed[0].user_attrs["fail_reason"]
    assert "FAIL" in out.getvalue()


@pytest.mark.parametrize(
    ("extra", "params", "message"),
    [
        (
            ["sweep.metric=val/nope"],
            None,
            r"sweep.metric=val/nope is not a metric this run produces; .*val/loss",
        ),
        (
            [],
            {"model.widht": {"type": "int", "low": 1, "high": 4}},
            r"model.widht is not a key of 'model'.*hidden_sizes",
        ),
        (
            [],
            {"model.dropout": {"type": "float", "low": 0.2, "high": 1.5}},
            r"1.5 is outside what model.dropout accepts",
        ),
        (
            [],
            {"optimizer": {"type": "group", "choices": ["adam", "adamm"]}},
            r"'adamm' is not an option of conf/optimizer/",
        ),
        (
            ["sweep.metric=[val/loss,val/accuracy]", "sweep.direction=[minimize,maximize]"],
            None,
            r"cannot prune a study with several metrics",
        ),
    ],
)
def test_bad_input_stops_before_the_first_trial(
    base: list[str], storage: str, extra: list[str], params: dict | None, message: str
) -> None:
    args = ["hparams_search=mlp", f"sweep.storage={storage}", *extra, *base]
    with pytest.raises(ConfigError, match=message):
        if params is None:
            run_sweep(args, stream=io.StringIO())
        else:
            _run_with_space(args, params, stream=io.StringIO())
    assert not Path(storage.removeprefix("sqlite:///")).exists() or not optuna.get_all_study_names(storage)


@pytest.mark.slow
def test_multi_objective_gives_a_pareto_front(base: list[str], storage: str, tmp_path: Path) -> None:
    out = io.StringIO()
    args = [
        *SMALL[:-1],  # with the plots: the parent run gets the Pareto front
        "sweep.n_trials=3",
        "sweep.sampler=nsga2",
        "sweep.pruner=none",
        "sweep.metric=[val/loss,val/accuracy]",
        "sweep.direction=[minimize,maximize]",
        f"sweep.storage={storage}",
        "sweep.study_name=mo",
        *base,
    ]
    [result] = run_sweep(args, stream=out)
    assert result.counts["COMPLETE"] == 3 and len(result.best_values or []) == 2
    assert "Pareto front" in out.getvalue()
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    [parent] = [r for r in _runs(tmp_path) if r.data.tags.get("sweep.role") == "parent"]
    images = {Path(f.path).name for f in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"pareto_front.png", "optimization_history.png"} <= images


@pytest.mark.slow
def test_refine_runs_a_second_stage_on_narrower_ranges(base: list[str], storage: str) -> None:
    args = [
        *SMALL,
        "sweep.n_trials=3",
        "sweep.refine=true",
        "sweep.refine_top_k=2",
        "sweep.refine_n_trials=2",
        f"sweep.storage={storage}",
        "sweep.study_name=c",
        *base,
    ]
    first, second = run_sweep(args, stream=io.StringIO())
    assert second.study_name == "c-refine" and second.counts["COMPLETE"] == 2
    before = {p.key: p for p in (first.space.params if first.space else ())}
    after = {p.key: p for p in (second.space.params if second.space else ())}
    lr0, lr1 = before["optimizer.lr"], after["optimizer.lr"]
    assert lr0.low <= lr1.low and lr1.high <= lr0.high and (lr1.high - lr1.low) < (lr0.high - lr0.low)
    refined = _load(storage, "c-refine")
    assert refined.user_attrs["refined_from"] == "c"
    assert all(lr1.low <= t.params["optimizer.lr"] <= lr1.high for t in refined.trials)


@pytest.mark.slow
def test_multirun_grid_is_one_study(base: list[str], storage: str, tmp_path: Path) -> None:
    code = multirun_command(
        [
            "-m",
            "optimizer=adam,nadam",
            "optimizer.lr=1e-3,3e-3",
            f"sweep.storage={storage}",
            "sweep.plots=false",
            *base,
        ]
    )
    assert code == 0
    [name] = optuna.get_all_study_names(storage)
    trials = _load(storage, name).trials
    assert len(trials) == 4
    # Each job's early stopping and checkpoint follow the study's metric (trial_config), and its
    # recorded command says so.
    monitor = ("callbacks.early_stopping.monitor=val/loss", "callbacks.model_checkpoint.monitor=val/loss")
    assert {tuple(t.user_attrs["overrides"]) for t in trials} == {
        (f"optimizer={o}", f"optimizer.lr={lr}", *monitor)
        for o in ("adam", "nadam")
        for lr in ("0.001", "0.003")
    }
    # Each job is a whole `trainer train` run, as under Hydra: tested, and no refit is needed.
    runs = [r for r in _runs(tmp_path) if "sweep.trial" in r.data.tags]
    assert len(runs) == 4 and all("test/loss" in r.data.metrics for r in runs)
    assert not [r for r in _runs(tmp_path) if r.data.tags.get("sweep.role") == "best"]


@pytest.mark.slow
def test_two_local_worker_processes_share_one_study(base: list[str], tmp_path: Path) -> None:
    storage = f"journal:{tmp_path}/optuna.log"
    args = [
        *SMALL,
        "sweep.n_trials=4",
        "sweep.n_jobs=2",
        f"sweep.storage={storage}",
        "sweep.study_name=w",
        *base,
    ]
    [result] = run_sweep(args, stream=io.StringIO())
    assert sum(result.counts[s] for s in ("COMPLETE", "PRUNED", "FAIL")) == 4
    runs = _runs(tmp_path)
    [parent] = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sum("sweep.trial" in r.data.tags for r in children) == 4
    # The coordinator refits the best trial: the worker process that ran it has exited.
    assert sum(r.data.tags.get("sweep.role") == "best" for r in children) == 1


def _postgres() -> str | None:
    url = os.environ.get("TRAINER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        return None
    return url


@pytest.mark.slow
def test_postgres_worker_processes_total_is_exact(base: list[str], tmp_path: Path) -> None:
    url = _postgres()
    if url is None:
        pytest.skip(
            "PostgreSQL is not reachable at 127.0.0.1:5432, or no driver: pip install -e '.[postgres]'"
        )
    name = f"pg_{tmp_path.name}"[-60:]
    args = [
        *SMALL,
        "sweep.n_trials=5",
        "sweep.n_jobs=2",
        f"sweep.storage={url}",
        f"sweep.study_name={name}",
        *base,
    ]
    try:
        [result] = run_sweep(args, stream=io.StringIO())
        assert sum(result.counts[s] for s in ("COMPLETE", "PRUNED", "FAIL")) == 5
    finally:
        optuna.delete_study(study_name=name, storage=normalize_url(url))
