"""A whole run recorded in a real SQLite store, read back with MlflowClient.

The main run trains on a CSV of mixed columns (numbers on different scales, text categories,
blanks), so the preprocessing packaged inside the logged model matters when it scores raw rows.
It runs from the project checkout (to record its git commit) but writes nothing there: the
store, its artifacts and the run folder all live under pytest's tmp folder.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from trainer.build import build_datamodule
from trainer.config import compose_config, validate_config
from trainer.engine.checkpoint import load_checkpoint
from trainer.redact import redact
from trainer.tracking.journal import JOURNAL_NAME, read_journal
from trainer.tracking.params import MAX_KEY_LENGTH, MAX_VALUE_LENGTH, flatten_config
from trainer.tracking.provenance import read_versions_tag
from trainer.train import RunResult, train

from .conftest import KeepModule, Store, base_overrides, list_artifacts, metric_steps, write_table

CHECKOUT = Path(__file__).resolve().parents[2]
MODEL_NAME = "tracking-test-classifier"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What train() could create in its working directory if a path were left relative.
CWD_OUTPUTS = {"mlruns", "mlflow.db", "runs", "outputs", "mlartifacts", "multirun"}

pytestmark = pytest.mark.slow


def _in_git_checkout(path: Path) -> bool:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True).returncode == 0
    except OSError:
        return False


@dataclass
class TableRun:
    result: RunResult
    store: Store
    run: Any
    overrides: list[str]
    csv: Path
    module: Any
    cwd: Path
    created_in_cwd: set[str]
    used_global_uri: bool
    downloaded: Path


@pytest.fixture(scope="module")
def table_run(store_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> TableRun:
    tmp = tmp_path_factory.mktemp("table_run")
    store = store_factory(tmp / "store")
    csv = write_table(tmp / "claims.csv")
    overrides = base_overrides(
        store.uri,
        tmp,
        "data=csv",
        f"data.source.path={csv}",
        "data.target=label",
        "data.drop=[id]",
        "data.batch_size=32",
        "model.hidden_sizes=[16,8]",
        "optimizer.lr=0.01",
        "trainer.max_epochs=3",
        "trainer.log_every_n_steps=1",
        f"logger.registered_model_name={MODEL_NAME}",
    )
    cwd = CHECKOUT if _in_git_checkout(CHECKOUT) else tmp
    keep = KeepModule()
    before = set(os.listdir(cwd))
    fallback = tmp / "global-fallback.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        # Anything that ignored the configured URI for MLflow's global one would land here,
        # not in the checkout's ./mlflow.db.
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{fallback}")
        result = train(compose_config(overrides), callbacks=[keep])
    created = set(os.listdir(cwd)) - before
    assert result.tracking_run_id
    downloaded = tmp / "downloaded"
    downloaded.mkdir()
    store.client.download_artifacts(result.tracking_run_id, "", str(downloaded))
    return TableRun(
        result=result,
        store=store,
        run=store.client.get_run(result.tracking_run_id),
        overrides=overrides,
        csv=csv,
        module=keep.module,
        cwd=cwd,
        created_in_cwd=created,
        used_global_uri=fallback.exists(),
        downloaded=downloaded,
    )


# ---------------------------------------------------------------------- the run itself
def test_run_is_finished_and_is_the_one_train_returned(table_run: TableRun) -> None:
    runs = table_run.store.runs()
    assert [r.info.run_id for r in runs] == [table_run.result.tracking_run_id]
    info = table_run.run.info
    assert info.status == "FINISHED"
    assert info.end_time is not None and info.end_time >= info.start_time
    assert table_run.result.pending_path is None
    journal = read_journal(table_run.result.run_dir / JOURNAL_NAME)
    assert journal.undelivered(prior_in_store=True) == [], "every journaled record was delivered"
    assert journal.status is not None and journal.status["status"] == "FINISHED"
    cfg = yaml.safe_load((table_run.result.run_dir / "config.yaml").read_text())
    assert info.run_name == cfg["run_name"]


def test_run_writes_nothing_in_its_working_directory(table_run: TableRun) -> None:
    assert not table_run.used_global_uri, "part of the run went to MLflow's global tracking URI"
    assert not (table_run.created_in_cwd & CWD_OUTPUTS), table_run.created_in_cwd
    assert table_run.result.run_dir.is_relative_to(table_run.store.artifacts.parents[1])


def test_params_are_what_a_user_tunes_from_the_resolved_config(table_run: TableRun) -> None:
    """Every setting of the resolved config that shapes the training, and nothing that only says
    where or how the run is recorded or shown (logger, paths, progress bar, class paths)."""
    params = table_run.run.data.params
    resolved = load_checkpoint(table_run.result.last_checkpoint)["config"]
    untuned = ("logger.", "paths.", "callbacks.progress.", "run_name")
    expected = {
        key[:MAX_KEY_LENGTH]: redact(str(value))[:MAX_VALUE_LENGTH]
        for key, value in flatten_config(resolved).items()
        if not key.startswith(untuned) and not key.endswith("._target_")
    }
    expected |= {"model": "MLP", "optimizer": "Adam", "data.source": "CsvSource"}
    assert len(expected) > 50
    assert params == expected
    assert params["optimizer.lr"] == "0.01"
    assert params["trainer.max_epochs"] == "3"
    assert params["trainer.log_every_n_steps"] == "1"
    assert params["model.hidden_sizes"] == "[16, 8]"
    assert params["data.source.path"] == str(table_run.csv)


def test_tags_record_provenance_and_overrides(table_run: TableRun) -> None:
    tags = table_run.run.data.tags
    assert tags["overrides"] == " ".join(table_run.overrides)
    assert tags["command"]
    assert read_versions_tag(tags["versions"])["torch"] == metadata.version("torch")
    assert read_versions_tag(tags["versions"])["mlflow"] == metadata.version("mlflow")
    assert tags["device"] == "cpu"
    assert tags["precision"] == "32"
    assert tags["run_dir"] == str(table_run.result.run_dir)
    assert tags["model_uri"] == table_run.result.model_uri
    assert "error" not in tags
    if table_run.cwd == CHECKOUT:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True)
        assert tags["git.commit"] == head.stdout.strip()
        assert tags["mlflow.source.git.commit"] == head.stdout.strip()
        assert tags["git.dirty"] in ("true", "false")


def test_the_run_page_opens_with_the_runs_story(table_run: TableRun) -> None:
    """The description (mlflow.note.content): the command, the best epoch and its value, the
    test metrics of the checkpoint that was tested, the bias/variance verdict, the model."""
    text = table_run.run.data.tags["mlflow.note.content"]
    result = table_run.result
    assert f"trainer train {' '.join(shlex.quote(o) for o in table_run.overrides)}\n" in text
    monitor = "val/ap"
    best = min(result.history, key=lambda row: (-row[monitor], row["epoch"]))  # the first best epoch
    assert (
        f"**Best epoch {int(best['epoch'])} of 3, {monitor} = {best[monitor]:.4g}** (the checkpoint" in text
    )
    assert f"scored with {Path(result.best_checkpoint).name}:" in text
    for key, value in result.metrics.items():
        if key.startswith("test/") and math.isfinite(value):
            assert f"| {key.removeprefix('test/')} | {value:.4g} |" in text
    assert f"**Bias/variance:** {table_run.run.data.tags['bias_variance'].replace('_', ' ')};" in text
    assert f"`{result.model_uri}`" in text


def test_the_experiment_gets_a_chart_view_of_the_learning_curves(table_run: TableRun) -> None:
    """MLflow keeps a run's chart layout in the browser; the shared view the printed ``curves:``
    address opens is an experiment tag: train and validation loss in one chart, against epochs."""
    import json
    from urllib.parse import parse_qs

    [line] = [line for line in table_run.result.location if line.startswith("curves: ")]
    query = parse_qs(line.split("?", 1)[1])
    key = query["viewStateShareKey"][0]
    assert query["compareRunsMode"] == ["CHART"] and query["workflowType"] == ["machine_learning"]
    assert f"/#/experiments/{table_run.run.info.experiment_id}/runs?" in line
    tags = table_run.store.client.get_experiment(table_run.run.info.experiment_id).tags
    state = json.loads(tags[f"mlflow.sharedViewState.{key}"])
    shown = [c for c in state["compareRunCharts"] if not c["deleted"]]
    assert shown[0]["selectedMetricKeys"] == ["train/loss", "val/loss"]
    assert {c["selectedXAxisMetricKey"] for c in shown} == {"epoch"} and {c["xAxisKey"] for c in shown} == {
        "metric"
    }
    assert {k for c in shown for k in c["selectedMetricKeys"]} == {
        k for k in table_run.run.data.metrics if k.startswith("val/")
    } | {"train/loss"}
    assert state["isAccordionReordered"] is True and len(state["compareRunSections"]) == 1


def test_metric_histories_match_the_training_history(table_run: TableRun) -> None:
    client, run_id = table_run.store.client, table_run.result.tracking_run_id
    history = table_run.result.history
    assert [row["epoch"] for row in history] == [1, 2, 3]
    global_step = int(history[-1]["step"])
    steps_per_epoch = global_step // 3
    assert steps_per_epoch > 1 and global_step == 3 * steps_per_epoch

    # log_every_n_steps=1: one point per optimizer step, no more, no less.
    assert metric_steps(client, run_id, "train/loss_step") == list(range(1, global_step + 1))
    for key in ("train/loss", "val/loss", "val/roc_auc", "epoch"):
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        assert [m.step for m in points] == [row["step"] for row in history], key
        assert [m.value for m in points] == pytest.approx([float(row[key]) for row in history]), key
    lr = client.get_metric_history(run_id, "lr")
    assert sorted(m.step for m in lr) == [0, steps_per_epoch, 2 * steps_per_epoch]  # at each epoch's start
    assert all(m.value == pytest.approx(0.01) for m in lr)
    for key, value in table_run.result.metrics.items():
        if key.startswith("test/") and math.isfinite(value):
            (point,) = client.get_metric_history(run_id, key)
            assert point.value == pytest.approx(value)
            assert point.step == global_step
    assert {"test/loss", "test/accuracy", "test/roc_auc"} <= set(table_run.run.data.metrics)


# ---------------------------------------------------------------------- artifacts
def test_artifacts_hold_config_log_hydra_figures_and_checkpoints(table_run: TableRun) -> None:
    names = set(list_artifacts(table_run.store.client, table_run.result.tracking_run_id))
    assert {"config.yaml", "metrics.json", "train.log", "hydra/overrides.yaml", "hydra/config.yaml"} <= names
    figures = {n.removeprefix("figures/") for n in names if n.startswith("figures/")}
    assert {"learning_curves.png", "confusion_matrix.png", "roc_curve.png", "pr_curve.png"} <= figures
    assert "checkpoints/last.ckpt" in names
    assert len([n for n in names if n.startswith("checkpoints/") and n.endswith(".ckpt")]) >= 2  # best, last

    folder, run_dir = table_run.downloaded, table_run.result.run_dir
    for figure in figures:
        assert (folder / "figures" / figure).read_bytes().startswith(PNG_MAGIC), figure
    assert (folder / "config.yaml").read_text() == (run_dir / "config.yaml").read_text()
    assert yaml.safe_load((folder / "hydra" / "overrides.yaml").read_text()) == table_run.overrides
    logged_metrics = json.loads((folder / "metrics.json").read_text())
    assert set(logged_metrics) == set(table_run.result.metrics)
    finite = {k: v for k, v in table_run.result.metrics.items() if math.isfinite(v)}
    assert {k: v for k, v in logged_metrics.items() if v is not None} == pytest.approx(finite)
    assert f"Run {table_run.run.info.run_name} in {run_dir}" in (folder / "train.log").read_text()
    state = load_checkpoint(folder / "checkpoints" / "last.ckpt")
    assert state["tracking_run_id"] == table_run.result.tracking_run_id
    assert state["epoch"] == 3


def test_dataset_inputs_record_each_split_with_its_context(table_run: TableRun) -> None:
    inputs = table_run.run.inputs.dataset_inputs
    contexts = {}
    for item in inputs:
        context = {t.key: t.value for t in item.tags}["mlflow.data.context"]
        contexts[context] = item.dataset
    assert set(contexts) == {"train", "val", "test"}
    rows = {split: json.loads(d.profile)["num_rows"] for split, d in contexts.items()}
    assert sum(rows.values()) == 300
    assert rows["train"] > rows["val"] > 0 and rows["test"] > 0
    assert {d.name for d in contexts.values()} == {"claims-train", "claims-val", "claims-test"}
    assert len({d.digest for d in contexts.values()}) == 3
    assert all(str(table_run.csv) in d.source for d in contexts.values())


# ---------------------------------------------------------------------- the model
def test_logged_model_scores_raw_rows_like_the_trained_module(table_run: TableRun) -> None:
    import mlflow.pyfunc

    cfg = validate_config(compose_config(table_run.overrides).cfg)
    datamodule = build_datamodule(cfg)  # same seed: the same splits and fitted preprocessing
    order = np.concatenate([datamodule.indices_.train, datamodule.indices_.val, datamodule.indices_.test])
    raw = pd.read_csv(table_run.csv).iloc[order].drop(columns=["id", "label"]).reset_index(drop=True)
    assert raw.isna().any().any(), "the raw rows include blanks, as a user's file would"
    features = torch.cat([datamodule.tensors(s)[0] for s in ("train", "val", "test")])

    module = table_run.module
    module.eval()
    with torch.no_grad():
        expected = torch.sigmoid(module.model(features).reshape(-1)).numpy()

    mlflow.set_tracking_uri(table_run.store.uri)
    try:
        model = mlflow.pyfunc.load_model(table_run.result.model_uri)
        scored = model.predict(raw)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert list(scored.columns) == ["probability", "prediction"]
    np.testing.assert_allclose(scored["probability"].to_numpy(), expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), (expected >= 0.5).astype(np.int64))
    assert 0.05 < expected.mean() < 0.95, "a real classifier, not a constant"


def test_logged_model_has_a_signature_of_the_raw_columns(table_run: TableRun) -> None:
    import mlflow
    from mlflow.models import get_model_info

    mlflow.set_tracking_uri(table_run.store.uri)
    try:
        info = get_model_info(table_run.result.model_uri)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["amount", "age", "region", "plan"]
    assert info.signature.outputs.input_names() == ["probability", "prediction"]


def test_model_is_the_runs_output_and_is_registered(table_run: TableRun) -> None:
    client, run_id = table_run.store.client, table_run.result.tracking_run_id
    model_id = table_run.result.model_uri.removeprefix("models:/")
    assert [o.model_id for o in table_run.run.outputs.model_outputs] == [model_id]
    logged = client.get_logged_model(model_id)
    assert logged.source_run_id == run_id
    assert str(logged.status).endswith("READY")
    # Linked for the Models tab: the run's params, its test metrics on the test dataset; the run
    # still holds one point of each test metric.
    assert logged.params == table_run.run.data.params
    linked = {m.key: m for m in logged.metrics}
    metrics = table_run.result.metrics
    expected = {k: v for k, v in metrics.items() if k.startswith("test/") and math.isfinite(v)}
    assert set(linked) >= set(expected)
    for key, value in expected.items():
        assert linked[key].value == pytest.approx(value)
        assert linked[key].dataset_name and linked[key].dataset_name.endswith("-test")
        assert len(client.get_metric_history(run_id, key)) == 1
    # Named after its run (the characters MLflow refuses in a model name replaced), not "model".
    assert logged.name == re.sub(r"[/:.%\"']", "_", table_run.run.info.run_name)
    (version,) = client.search_model_versions(f"name='{MODEL_NAME}'")
    assert version.run_id == run_id
    assert str(version.version) == "1"
    # The version points at the logged model's files, so models:/<name>/1 loads the same model.
    assert client.get_model_version_download_uri(MODEL_NAME, "1") == logged.artifact_location


# ---------------------------------------------------------------------- other objectives
def _run(store: Store, tmp: Path, *extra: str) -> tuple[RunResult, Any]:
    result = train(compose_config(base_overrides(store.uri, tmp, *extra)))
    assert result.tracking_run_id
    return result, store.client.get_run(result.tracking_run_id)


def test_regression_run_logs_residuals_and_system_metrics(sqlite_store: Store, tmp_path: Path) -> None:
    _, run = _run(
        sqlite_store,
        tmp_path,
        "data=diabetes",
        # Long enough for the 1 s sampler, whatever the machine's speed: 3 s of fitting.
        "trainer.max_epochs=100000",
        "trainer.max_time=3",
        "callbacks.early_stopping=null",
        "trainer.log_every_n_steps=50",
        "logger.log_model=false",
        "logger.log_checkpoints=false",
        "logger.log_system_metrics=true",
        "logger.system_metrics_interval=1",
    )
    assert run.info.status == "FINISHED"
    names = set(list_artifacts(sqlite_store.client, run.info.run_id))
    assert {"figures/residuals.png", "figures/learning_curves.png"} <= names
    assert "figures/roc_curve.png" not in names
    assert not any(n.startswith("checkpoints/") for n in names)  # logger.log_checkpoints=false
    assert "model_uri" not in run.data.tags  # logger.log_model=false
    system = {k for k in run.data.metrics if k.startswith("system/")}
    assert system, f"no system metrics among {sorted(run.data.metrics)}"
    assert any("cpu" in k for k in system) and any("memory" in k for k in system)
    for key in system:
        assert len(sqlite_store.client.get_metric_history(run.info.run_id, key)) >= 1
    assert sorted(os.listdir(tmp_path)) == ["runs", "store"], "nothing written in the working directory"


def test_autoencoder_run_logs_reconstruction_errors(sqlite_store: Store, tmp_path: Path) -> None:
    result, run = _run(
        sqlite_store,
        tmp_path,
        "experiment=synthetic_autoencoder",
        "data.source.n_samples=800",
        "trainer.max_epochs=2",
        "logger.log_checkpoints=false",
        "logger.log_datasets=false",
    )
    assert run.info.status == "FINISHED"
    names = set(list_artifacts(sqlite_store.client, run.info.run_id))
    assert {"figures/reconstruction_error.png", "figures/learning_curves.png"} <= names
    assert "figures/confusion_matrix.png" not in names
    assert run.inputs.dataset_inputs == []  # logger.log_datasets=false
    assert run.data.tags["model_uri"] == result.model_uri
