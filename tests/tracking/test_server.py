"""Runs against a real ``mlflow server``: a server down from the start (spool, then ``trainer
upload``), credentials in the URI, an outage mid-run.

Starting a server costs 15-40 s on 2 cores, so the order overlaps boots with training: the
module's server boots while the spooled run trains against a dead port; the spooled run's own
server boots while the live run trains; the upload comes last."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Param

from trainer.cli import main as cli_main
from trainer.config import compose_config
from trainer.engine.checkpoint import load_checkpoint
from trainer.redact import redact
from trainer.tracking import MLflowLogger
from trainer.tracking.delivery import RUN_KEY_TAG
from trainer.tracking.journal import JOURNAL_NAME, read_journal
from trainer.tracking.mlflow_private import dispose_engine
from trainer.tracking.params import flatten_config, run_params
from trainer.tracking.upload import upload_journal
from trainer.train import RunResult, train

from .conftest import (
    EXPERIMENT,
    SECRET,
    MlflowServer,
    base_overrides,
    files_containing,
    free_port,
    kill_after_create,
    list_artifacts,
    metric_steps,
)

pytestmark = pytest.mark.slow

NOTE = f"postgresql://u:{SECRET}@h/db"  # a credential in a config string that becomes a tag
MODEL_NAME = "tracking-server-model"
HYDRA_AND_RUN_FILES = (
    "config.yaml",
    "train.log",
    ".hydra/config.yaml",
    ".hydra/overrides.yaml",
    ".hydra/hydra.yaml",
)


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., MlflowServer]) -> MlflowServer:
    """The module's server, launched but not waited for: it boots while the first run trains."""
    server = server_factory(start=False)
    server.launch()
    return server


def secret_uri(port: int) -> str:
    return f"http://user:{SECRET}@127.0.0.1:{port}"


@contextlib.contextmanager
def everything_printed() -> Iterator[io.StringIO]:
    """stdout, stderr and every log record (root, mlflow, trainer) while the block runs."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("", "mlflow", "trainer")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield sink
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


def expected_params(result: RunResult) -> dict[str, str]:
    resolved = load_checkpoint(result.last_checkpoint)["config"]
    return {k: redact(str(v)) for k, v in run_params(flatten_config(resolved)).items()}


def assert_history_arrived_once(client: Any, run_id: str, result: RunResult) -> None:
    """Every point the trainer produced is in the store exactly once, at its step."""
    history = result.history
    global_step = int(history[-1]["step"])
    assert metric_steps(client, run_id, "train/loss_step") == list(range(1, global_step + 1))
    for key in ("train/loss", "val/loss", "epoch"):
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        assert [m.step for m in points] == [row["step"] for row in history], key
        assert [m.value for m in points] == pytest.approx([row[key] for row in history]), key
    assert len(client.get_metric_history(run_id, "lr")) == len(history)
    (test_loss,) = client.get_metric_history(run_id, "test/loss")
    assert test_loss.value == pytest.approx(result.metrics["test/loss"])


# ---------------------------------------------------------------------- down from the start
@dataclass
class SpooledRun:
    result: RunResult
    spool_text: str
    server: MlflowServer  # launched on the run's port once the run is over
    resumed: OfflineResume


@dataclass
class OfflineResume:
    """A run already in the server's store, resumed by a logger that starts while the server is down."""

    run_id: str
    logger: MLflowLogger


def start_offline_resume(server: MlflowServer) -> OfflineResume:
    """Put a finished run into the (stopped) server's database, then resume it over HTTP: the
    logger cannot reach the server, so everything it is given waits in its writer."""
    from mlflow.tracking import MlflowClient

    direct = MlflowClient(tracking_uri=f"sqlite:///{server.db}")
    experiment_id = direct.create_experiment("resume-offline", artifact_location=str(server.artifacts))
    run_id = direct.create_run(experiment_id, run_name="resumed").info.run_id
    direct.log_batch(run_id, params=[Param("a", "1"), Param("b", "2")])
    direct.log_metric(run_id, "loss", 1.0, step=1)
    direct.set_terminated(run_id, "KILLED")
    dispose_engine(direct)
    assert not server.healthy()
    logger = MLflowLogger(
        tracking_uri=server.uri, experiment_name="resume-offline", flush_interval=0.05, close_timeout=120
    )
    logger.start(run_name="resumed", run_dir=server.root, resume_run_id=run_id)
    assert logger.run_id == run_id, "the server is down: still the checkpoint's run, not reopened yet"
    logger.log_hyperparams({"a": 1, "b": 3, "c": 4})  # b changed: MLflow refuses to change a param
    logger.set_tags({"device": "cpu"})
    for step in range(2, 102):
        logger.log_metrics({"loss": 1.0 / step}, step=step)
    return OfflineResume(run_id=run_id, logger=logger)


@pytest.fixture(scope="module")
def spooled_run(
    server: MlflowServer,  # requested first, so that it boots while this run trains
    server_factory: Callable[..., MlflowServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> SpooledRun:
    tmp = tmp_path_factory.mktemp("spooled_run")
    port = free_port()  # nothing listens there
    overrides = base_overrides(
        secret_uri(port),
        tmp,
        "data=breast_cancer",
        "trainer.max_epochs=2",
        "trainer.log_every_n_steps=1",
        "logger.close_timeout=2",
        "logger.request_timeout=2",
        f"+logger.tags.note={NOTE}",
        # A run folder without '=' in its name: `trainer upload` takes any argument holding '='
        # for an override (cli.py), and names built from overrides hold them (max_epochs=2).
        "run_name=spooled",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)
        started = time.monotonic()
        result = train(compose_config(overrides))
        elapsed = time.monotonic() - started
    assert elapsed < 120, f"a dead server must not stall the run ({elapsed:.0f} s)"
    spool_text = (result.run_dir / JOURNAL_NAME).read_text() if result.pending_path else ""
    late_server = server_factory(port=port, start=False)  # the server comes up on the run's port
    resumed = start_offline_resume(late_server)  # and meanwhile, a resume waits for it too
    late_server.launch()
    return SpooledRun(result=result, spool_text=spool_text, server=late_server, resumed=resumed)


def test_training_completes_and_spools_when_the_server_is_down(spooled_run: SpooledRun) -> None:
    result = spooled_run.result
    assert result.metrics["test/loss"] > 0
    assert result.tracking_run_id is None
    assert result.model_uri is None
    assert result.pending_path == str(result.run_dir / JOURNAL_NAME)
    assert spooled_run.spool_text, "the journal was written"
    assert (result.run_dir / "model" / "MLmodel").is_file(), "the model is kept locally for upload"


def test_spool_holds_every_record_and_no_password(spooled_run: SpooledRun, tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_text(spooled_run.spool_text)
    journal = read_journal(path)
    assert journal.run_id is None
    assert journal.header["tracking_uri"] == f"http://user:***@127.0.0.1:{spooled_run.server.port}"
    assert journal.header["run_name"] == "spooled"
    assert journal.status is not None and journal.status["status"] == "FINISHED"
    waiting = journal.undelivered(prior_in_store=False)
    global_step = int(spooled_run.result.history[-1]["step"])
    steps = sorted(r["step"] for r in waiting if r.get("key") == "train/loss_step")
    assert steps == list(range(1, global_step + 1))
    assert {r["key"] for r in waiting if r["kind"] == "param"} == set(expected_params(spooled_run.result))
    uploaded = {Path(r["path"]).name for r in waiting if r["kind"] in ("artifact", "model")}
    assert {"config.yaml", "train.log", ".hydra", "model", "last.ckpt"} <= uploaded
    assert any(r["kind"] == "dataset" for r in waiting), "the dataset inputs wait too"
    assert SECRET not in spooled_run.spool_text


def test_nothing_the_dead_server_run_wrote_holds_the_password(spooled_run: SpooledRun) -> None:
    log_text = (spooled_run.result.run_dir / "train.log").read_text()
    assert "is unreachable" in log_text  # the failures were logged ...
    assert files_containing(spooled_run.result.run_dir, SECRET) == []  # ... without the password


# ---------------------------------------------------------------------- credentials, live server
@dataclass
class LiveRun:
    result: RunResult
    run: Any
    client: Any
    printed: str
    downloaded: Path
    port: int


@pytest.fixture(scope="module")
def live_run(server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    tmp = tmp_path_factory.mktemp("live_run")
    server.wait_ready()
    overrides = base_overrides(
        secret_uri(server.port),
        tmp,
        "data=breast_cancer",
        "trainer.max_epochs=2",
        "trainer.log_every_n_steps=1",
        f"+logger.tags.note={NOTE}",
        f"logger.registered_model_name={MODEL_NAME}",
    )
    with pytest.MonkeyPatch.context() as patch, everything_printed() as printed:
        patch.chdir(tmp)
        result = train(compose_config(overrides))
    client = server.client()
    assert result.tracking_run_id
    downloaded = tmp / "downloaded"
    (downloaded / "run").mkdir(parents=True)
    client.download_artifacts(result.tracking_run_id, "", str(downloaded / "run"))
    if result.model_uri:
        import mlflow.artifacts

        # By its location: MLflow resolves a models:/ URI through the global tracking URI.
        location = client.get_logged_model(result.model_uri.removeprefix("models:/")).artifact_location
        mlflow.artifacts.download_artifacts(
            artifact_uri=location, dst_path=str(downloaded / "model"), tracking_uri=server.uri
        )
    return LiveRun(
        result=result,
        run=client.get_run(result.tracking_run_id),
        client=client,
        printed=printed.getvalue(),
        downloaded=downloaded,
        port=server.port,
    )


def test_live_run_with_a_password_in_the_uri_is_recorded(live_run: LiveRun) -> None:
    assert live_run.run.info.status == "FINISHED"
    assert live_run.result.pending_path is None
    assert live_run.run.data.params == expected_params(live_run.result)
    assert live_run.run.data.tags["overrides"].startswith(
        f"logger.tracking_uri=http://user:***@127.0.0.1:{live_run.port}"
    )
    assert live_run.run.data.tags["note"] == "postgresql://u:***@h/db"
    assert_history_arrived_once(live_run.client, live_run.run.info.run_id, live_run.result)
    names = set(list_artifacts(live_run.client, live_run.run.info.run_id))
    assert {"config.yaml", "train.log", "hydra/overrides.yaml", "checkpoints/last.ckpt"} <= names
    assert list((live_run.downloaded / "model").rglob("MLmodel")), "the logged model downloads"
    (version,) = live_run.client.search_model_versions(f"name='{MODEL_NAME}'")
    assert version.run_id == live_run.run.info.run_id


def test_password_is_in_no_param_tag_or_metric_name(live_run: LiveRun) -> None:
    data = live_run.run.data
    assert SECRET not in repr(data.params)
    assert SECRET not in repr(data.tags)
    assert all(SECRET not in key for key in data.metrics)
    assert SECRET not in live_run.run.info.run_name


def test_password_is_in_no_uploaded_file(live_run: LiveRun) -> None:
    files = [p for p in live_run.downloaded.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert files_containing(live_run.downloaded, SECRET) == []


def test_password_is_in_no_file_of_the_run_folder(live_run: LiveRun) -> None:
    run_dir = live_run.result.run_dir
    for name in (
        "config.yaml",
        "train.log",
        ".hydra/config.yaml",
        ".hydra/overrides.yaml",
        ".hydra/hydra.yaml",
    ):
        assert (run_dir / name).is_file(), name
    assert "user:***@127.0.0.1" in (run_dir / "config.yaml").read_text()  # masked, not dropped
    assert files_containing(run_dir, SECRET) == []
    state = load_checkpoint(live_run.result.last_checkpoint)
    assert SECRET not in repr(state["config"])
    assert state["config"]["logger"]["tracking_uri"] == f"http://user:***@127.0.0.1:{live_run.port}"


def test_password_is_not_printed(live_run: LiveRun) -> None:
    assert "MLflow run" in live_run.printed  # the capture did see the run's messages
    assert SECRET not in live_run.printed


# ---------------------------------------------------------------------- an outage mid-run
class ServerOutage:
    """A real callback: stops the server after epoch ``at_epoch`` and starts it again on the same
    port and database in the background; the fit waits for it at its end, so the artifacts and
    the model (uploaded right after the fit) find the server up."""

    def __init__(self, server: MlflowServer, *, at_epoch: int, down_for: float) -> None:
        self.server = server
        self.at_epoch = at_epoch
        self.down_for = down_for
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.stopped_at_step = -1
        self.steps_while_down = 0

    def on_train_epoch_end(self, trainer: Any, module: Any, metrics: dict[str, float]) -> None:
        if trainer.current_epoch == self.at_epoch:
            self.server.stop()
            self.stopped_at_step = trainer.global_step
            self.thread = threading.Thread(target=self._restart, name="server-restart")
            self.thread.start()
        elif self.thread is not None and self.thread.is_alive():
            self.steps_while_down = trainer.global_step - self.stopped_at_step

    def _restart(self) -> None:
        time.sleep(self.down_for)
        try:
            self.server.start()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def on_fit_end(self, trainer: Any, module: Any) -> None:
        if self.thread is not None:
            self.thread.join()


@dataclass
class OutageRun:
    result: RunResult
    outage: ServerOutage
    client: Any


@pytest.fixture(scope="module")
def outage_run(server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> OutageRun:
    tmp = tmp_path_factory.mktemp("outage_run")
    server.wait_ready()
    outage = ServerOutage(server, at_epoch=2, down_for=1.0)
    overrides = base_overrides(
        server.uri,
        tmp,
        "data=synthetic_classification",
        "data.batch_size=64",
        "trainer.max_epochs=6",
        "trainer.log_every_n_steps=1",
        "callbacks.early_stopping=null",
        "logger.flush_interval=0.2",
        "logger.log_datasets=false",
        "logger.experiment_name=outage",  # the server also holds the live run's experiment
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)
        result = train(compose_config(overrides), callbacks=[outage])
    if outage.error is not None:
        raise outage.error
    return OutageRun(result=result, outage=outage, client=server.client())


def test_outage_mid_run_loses_and_repeats_no_point(outage_run: OutageRun) -> None:
    result, client = outage_run.result, outage_run.client
    assert outage_run.outage.stopped_at_step > 0
    assert outage_run.outage.steps_while_down > 0, "training went on while the server was down"
    log_text = (result.run_dir / "train.log").read_text()
    assert "Tracking store unreachable" in log_text, "the writer did meet the outage"
    assert "reachable again" in log_text

    run = client.get_run(result.tracking_run_id)
    assert run.info.status == "FINISHED"
    assert result.pending_path is None
    assert [r.info.run_id for r in client.search_runs([run.info.experiment_id])] == [run.info.run_id]
    assert_history_arrived_once(client, run.info.run_id, result)
    assert run.data.params == expected_params(result)
    names = set(list_artifacts(client, run.info.run_id))
    assert {"config.yaml", "train.log", "figures/learning_curves.png", "checkpoints/last.ckpt"} <= names
    assert run.data.tags["model_uri"] == result.model_uri


# ---------------------------------------------------------------------- the upload, at the end
@dataclass
class UploadedRun:
    result: RunResult
    code: int
    client: Any
    run: Any
    downloaded: Path


@pytest.fixture(scope="module")
def uploaded_run(spooled_run: SpooledRun, tmp_path_factory: pytest.TempPathFactory) -> UploadedRun:
    server, result = spooled_run.server, spooled_run.result
    server.wait_ready()
    trainer_logger = logging.getLogger("trainer")
    level = trainer_logger.level  # the CLI sets up console logging; leave it as it was
    try:
        code = cli_main(["upload", str(result.run_dir), f"logger.tracking_uri={server.uri}"])
    finally:
        trainer_logger.setLevel(level)
    client = server.client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"trainer upload returned {code} and created nothing"
    (run,) = client.search_runs([experiment.experiment_id])
    downloaded = tmp_path_factory.mktemp("uploaded")
    client.download_artifacts(run.info.run_id, "", str(downloaded))
    return UploadedRun(result=result, code=code, client=client, run=run, downloaded=downloaded)


def test_upload_delivers_the_spooled_run(uploaded_run: UploadedRun) -> None:
    result, client, run = uploaded_run.result, uploaded_run.client, uploaded_run.run
    assert uploaded_run.code == 0
    assert read_journal(result.run_dir / JOURNAL_NAME).undelivered(prior_in_store=True) == []
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "spooled"
    assert run.data.params == expected_params(result)
    assert_history_arrived_once(client, run.info.run_id, result)
    for key, value in result.metrics.items():
        if key.startswith("test/") and value == value:  # not NaN
            assert run.data.metrics[key] == pytest.approx(value)
    tags = run.data.tags
    assert tags["overrides"]
    assert "mlflow " in tags["versions"]
    assert tags["note"] == "postgresql://u:***@h/db", "the configured tags travel with the journal too"
    names = set(list_artifacts(client, run.info.run_id))
    assert {"config.yaml", "metrics.json", "train.log", "hydra/overrides.yaml"} <= names
    assert {"checkpoints/last.ckpt", "figures/learning_curves.png", "figures/roc_curve.png"} <= names
    (output,) = run.outputs.model_outputs  # the logged model, as a live run has it
    assert tags["model_uri"] == f"models:/{output.model_id}"
    contexts = {t.value for d in run.inputs.dataset_inputs for t in d.tags}
    assert contexts == {"train", "val", "test"}, "the dataset inputs arrive too"
    assert run.info.start_time < result.run_dir.joinpath("metrics.json").stat().st_mtime * 1000, (
        "original start"
    )
    assert files_containing(uploaded_run.downloaded, SECRET) == []


def test_a_resume_that_starts_while_the_server_is_down_loses_nothing(spooled_run: SpooledRun) -> None:
    resumed, server = spooled_run.resumed, spooled_run.server
    server.wait_ready()
    resumed.logger.finalize("FINISHED")
    assert resumed.logger.pending_path is None
    assert resumed.logger.run_id == resumed.run_id
    client = server.client()
    run = client.get_run(resumed.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"a": "1", "b": "2", "c": "4"}  # the logged value stays, the new one is added
    assert run.data.tags["resumed.b"] == "3"
    assert run.data.tags["device"] == "cpu"
    assert metric_steps(client, resumed.run_id, "loss") == list(range(1, 102))


def test_upload_finds_the_run_a_process_killed_after_creating_it_made_on_the_server(
    server: MlflowServer, tmp_path: Path
) -> None:
    server.wait_ready()
    run_dir = tmp_path / "run"
    kill_after_create(server.uri, run_dir)
    client = server.client()
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    key = read_journal(run_dir / JOURNAL_NAME).header["run_key"]
    made = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'")
    assert [r.info.status for r in made] == ["RUNNING"]

    summary = upload_journal(run_dir, tracking_uri=server.uri)

    again = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'")
    assert [(r.info.run_id, r.info.status) for r in again] == [(made[0].info.run_id, "KILLED")]
    assert summary["run_id"] == made[0].info.run_id


def test_the_printed_address_opens_the_run_in_the_training_view(live_run: LiveRun) -> None:
    """The run's last line is its page on the server: no credentials, the training view, and
    the experiment and run ids the server holds; the server answers that page."""
    import urllib.request
    from urllib.parse import urlsplit

    [address] = [
        line.removeprefix("open: ") for line in live_run.result.location if line.startswith("open: ")
    ]
    parts = urlsplit(address)
    assert (parts.scheme, parts.netloc, parts.username) == ("http", f"127.0.0.1:{live_run.port}", None)
    route, _, query = parts.fragment.partition("?")
    assert query == "workflowType=machine_learning"
    _, experiments, experiment_id, runs, run_id = route.split("/")
    assert (experiments, runs) == ("experiments", "runs")
    assert (experiment_id, run_id) == (live_run.run.info.experiment_id, live_run.run.info.run_id)
    with urllib.request.urlopen(address.partition("#")[0], timeout=10) as reply:  # the UI's page
        assert reply.status == 200 and b"<html" in reply.read(4096).lower()
    experiment = live_run.client.get_experiment(experiment_id)
    assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"
    # The line above it opens the experiment's learning curves: a view the server holds.
    [curves] = [
        line.removeprefix("curves: ") for line in live_run.result.location if line.startswith("curves: ")
    ]
    route, _, query = urlsplit(curves).fragment.partition("?")
    assert route == f"/experiments/{experiment_id}/runs" and "workflowType=machine_learning" in query
    key = query.split("viewStateShareKey=")[1].split("&")[0]
    assert "train/loss" in experiment.tags[f"mlflow.sharedViewState.{key}"]


def test_a_sweep_on_the_server_records_the_truth_and_prints_addresses_that_resolve(
    server: MlflowServer, tmp_path: Path
) -> None:
    """Through the server's API: the parent's description and name, each trial's name, pruned
    trials FINISHED and tagged, each trial's value its best epoch's (not its last), and every
    address the sweep printed naming a run of the server in the training view."""
    import re

    import optuna

    from trainer.sweep.stages import run_sweep

    server.wait_ready()
    out = io.StringIO()
    args = [
        "hparams_search=mlp",
        "hparams_search.params.optimizer.choices=[adam,momentum]",
        "sweep.n_trials=6",
        "sweep.pruner=median",
        "+sweep.pruner_options.n_startup_trials=2",
        "sweep.seed=3",
        f"sweep.storage=sqlite:///{tmp_path}/optuna.db",
        "data=synthetic_classification",
        "data.source.n_samples=300",
        "data.source.n_categorical=0",
        "trainer.max_epochs=5",
        "logger.log_checkpoints=false",
        "logger.log_datasets=false",
        *base_overrides(server.uri, tmp_path),
    ]
    [result] = run_sweep(args, stream=out)
    client = server.client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    [parent] = [r for r in runs if r.info.run_id == result.parent_run_id]
    assert parent.info.run_name == "sweep mlp-synthetic_classification"
    description = parent.data.tags["mlflow.note.content"]
    assert (
        "**Study** `mlp-synthetic_classification`" in description
        and "Reproduce the best trial" in description
    )
    study = optuna.load_study(study_name=result.study_name, storage=f"sqlite:///{tmp_path}/optuna.db")
    by_run = {r.info.run_id: r for r in runs}
    for trial in study.trials:
        run = by_run[trial.user_attrs["run_id"]]
        assert run.info.run_name.endswith(f"_t{trial.number:03d}")
        assert run.info.status == "FINISHED", (trial.number, trial.state)
        assert run.data.tags["sweep.state"] == trial.state.name
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert run.data.tags["sweep.pruned_epoch"] == str(trial.user_attrs["pruned_epoch"])
        if trial.state == optuna.trial.TrialState.COMPLETE:
            losses = [m.value for m in client.get_metric_history(run.info.run_id, "val/loss")]
            assert trial.value == pytest.approx(min(losses))  # the best epoch's, not the last one's
    assert study.best_trial.number == int(parent.data.tags["best.trial"])
    assert result.counts["PRUNED"] >= 1, result.counts  # the pruned branch above was taken
    addresses = re.findall(r"http://\S+/#/\S+", out.getvalue())
    assert len(addresses) >= 2  # the best run and the parent
    for address in addresses:
        match = re.fullmatch(
            rf"http://127\.0\.0\.1:{server.port}/#/experiments/(\w+)/runs/(\w+)\?workflowType=machine_learning",
            address,
        )
        assert match, address
        assert client.get_run(match.group(2)).info.experiment_id == match.group(1)
