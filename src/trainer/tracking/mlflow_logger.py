"""MLflow logger: every run recorded, batched off the training thread, never the reason a run dies.

Metrics, params and tags go through a :class:`BatchWriter` thread. If the tracking store is
unreachable (at start or mid-run) the items wait in memory and are retried with backoff;
whatever is still undelivered when the run ends is written to the run folder's spool, and
``trainer upload <run folder>`` sends it later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

from trainer.redact import describe_error, redact
from trainer.tracking.base import Logger
from trainer.tracking.batch_writer import BatchWriter
from trainer.tracking.mlflow_experiment import get_or_create_experiment
from trainer.tracking.store_check import check_tracking_uri
from trainer.tracking.spool import SPOOL_NAME, Spool, SpoolHeader, write_spool

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# Errors that resending cannot fix: the store understood the request and refused it.
PERMANENT_ERROR_CODES = frozenset(
    {
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_STATE",
        "BAD_REQUEST",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
    }
)


def is_permanent_error(exc: Exception) -> bool:
    code = getattr(exc, "error_code", None)
    return code in PERMANENT_ERROR_CODES


class MLflowLogger(Logger):
    """Record a run in MLflow.

    Args:
        tracking_uri: any MLflow URI; the default is MLflow 3's own (``sqlite:///mlflow.db`` in
            the directory you run from), so a bare ``mlflow ui`` there shows the runs.
        experiment_name: created on first use.
        run_name: set by ``train()`` from the config when left empty.
        tags: extra tags for the run.
        log_model: package the model with its preprocessing as a pyfunc model.
        registered_model_name: also register the model under this name.
        log_checkpoints: upload the best and last checkpoints as artifacts.
        log_datasets: record the data splits as MLflow dataset inputs.
        log_system_metrics: sample CPU, memory (and GPU) in the background.
        system_metrics_interval: seconds between system samples.
        flush_interval: seconds between background deliveries.
        close_timeout: how long the end of a run waits for an unreachable store before spooling.
        request_timeout: seconds one HTTP request may take (MLflow's own default is 120).
    """

    def __init__(
        self,
        *,
        tracking_uri: str = DEFAULT_TRACKING_URI,
        experiment_name: str = "trainer",
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        log_model: bool = True,
        registered_model_name: str | None = None,
        log_checkpoints: bool = True,
        log_datasets: bool = True,
        log_system_metrics: bool = False,
        system_metrics_interval: float = 10.0,
        flush_interval: float = 1.0,
        close_timeout: float = 30.0,
        request_timeout: float = 5.0,
    ) -> None:
        self.tracking_uri = tracking_uri or DEFAULT_TRACKING_URI
        # A store that cannot work (malformed, unwritable, no driver) stops the run here, in one
        # line; a server that is merely down is not checked, and its records are retried.
        check_tracking_uri(self.tracking_uri)
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.extra_tags = dict(tags or {})
        self.log_model_enabled = log_model
        self.registered_model_name = registered_model_name
        self.log_checkpoints = log_checkpoints
        self.log_datasets = log_datasets
        self.log_system_metrics = log_system_metrics
        self.system_metrics_interval = system_metrics_interval
        self.flush_interval = flush_interval
        self.close_timeout = close_timeout
        self.request_timeout = request_timeout
        self.run_dir: Path | None = None
        self.experiment_id: str | None = None
        self._run_id: str | None = None
        self._client: Any = None
        self._writer: BatchWriter | None = None
        self._failed_artifacts: list[dict[str, Any]] = []
        self._system_monitor: Any = None
        self._finalized = False
        self.spool_path: Path | None = None
        self._parent_run_id: str | None = None
        self._env_set: list[str] = []  # MLFLOW_* variables start() set, removed again by finalize()

    # ---------------------------------------------------------------- lifecycle
    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def safe_uri(self) -> str:
        return redact(self.tracking_uri)

    @property
    def records_model(self) -> bool:
        return self.log_model_enabled

    @property
    def records_checkpoints(self) -> bool:
        return self.log_checkpoints

    @property
    def pending_path(self) -> Path | None:
        return self.spool_path

    def location_lines(self) -> list[str]:
        if self.spool_path is not None:
            return [
                f"MLflow was unreachable: its records wait in {self.spool_path}",
                f"send them when the server is back: trainer upload {self.run_dir}",
            ]
        uri = self.safe_uri
        lines = [f"MLflow run {self._run_id} in experiment {self.experiment_name!r} at {uri}"]
        if uri.startswith(("http://", "https://")):
            lines.append(f"browse it: open {uri} in a browser")
        else:
            store = "" if uri == DEFAULT_TRACKING_URI else f" --backend-store-uri {uri}"
            lines.append(f"browse it: mlflow ui{store}   then open http://127.0.0.1:5000")
        return lines

    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
    ) -> None:
        """Open the run (or reopen ``resume_run_id``) and start the background writer."""
        from mlflow.tracking import MlflowClient

        # Our writer retries with backoff; MLflow's own retries (7 by default, exponential)
        # would only delay the moment we notice a dead server. A user's setting wins, and
        # finalize() puts the environment back as it was.
        self._set_env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        self._set_env("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(self.request_timeout)))
        self._set_env("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # it garbles our output
        if self.safe_uri != self.tracking_uri:  # MLflow's "View run at <uri>" would print the password
            self._set_env("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.run_name = self.run_name or run_name
        self.run_dir = run_dir
        self._resume_run_id = resume_run_id or None
        self._parent_run_id = parent_run_id or None
        self._client = MlflowClient(tracking_uri=self.tracking_uri)
        self._writer = BatchWriter(
            self._send,
            flush_interval=self.flush_interval,
            is_permanent=is_permanent_error,
            name="trainer-mlflow",
        )
        try:
            self._ensure_run()
        except Exception as exc:  # unreachable at start: the writer keeps trying
            log.warning(
                "MLflow tracking store %s is unreachable (%s); training goes on, and the "
                "records are buffered until it answers.",
                self.safe_uri,
                describe_error(exc),
            )
        if self._run_id:
            log.info(
                "MLflow run %s in experiment %r at %s", self._run_id, self.experiment_name, self.safe_uri
            )

    def _set_env(self, name: str, value: str) -> None:
        if name not in os.environ:
            os.environ[name] = value
            self._env_set.append(name)

    def _restore_env(self) -> None:
        for name in self._env_set:
            os.environ.pop(name, None)
        self._env_set.clear()

    def _ensure_run(self) -> str:
        if self._run_id:
            return self._run_id
        client = self._client
        if self.experiment_id is None:
            self.experiment_id = get_or_create_experiment(client, self.experiment_name)
        if self._resume_run_id:
            client.get_run(self._resume_run_id)  # raises if it does not exist
            client.update_run(self._resume_run_id, status="RUNNING")
            self._run_id = self._resume_run_id
        else:
            tags = {k: redact(str(v)) for k, v in self.extra_tags.items()}
            if self._parent_run_id:  # MLflow's UI nests the run under its parent by this tag
                tags["mlflow.parentRunId"] = self._parent_run_id
            run = client.create_run(self.experiment_id, run_name=self.run_name, tags=tags)
            self._run_id = run.info.run_id
        if self.log_system_metrics:
            self._start_system_metrics()
        return self._run_id

    def _send(self, metrics: list[Any], params: list[Any], tags: list[Any]) -> None:
        run_id = self._ensure_run()
        if params and self._resume_run_id:
            # Params queued while the store was down at start were never checked against the
            # resumed run: one changed value would make MLflow refuse (and drop) the whole chunk.
            params = self._new_params_only(params)
        self._client.log_batch(run_id, metrics=metrics, params=params, tags=tags, synchronous=True)

    def _start_system_metrics(self) -> None:
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            self._system_monitor = SystemMetricsMonitor(
                self._run_id, sampling_interval=self.system_metrics_interval, tracking_uri=self.tracking_uri
            )
            self._system_monitor.start()
        except Exception as exc:  # psutil missing or the monitor failed: a run never dies of it
            log.warning("System metrics are off: %s", describe_error(exc))
            self._system_monitor = None

    # ---------------------------------------------------------------- records
    def log_hyperparams(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        from trainer.tracking.params import MAX_KEY_LENGTH, MAX_VALUE_LENGTH

        items = [Param(str(k)[:MAX_KEY_LENGTH], redact(str(v))[:MAX_VALUE_LENGTH]) for k, v in params.items()]
        assert self._writer is not None, "start() first"
        self._writer.add(params=items)  # on resume, _send keeps only the params the run lacks

    def _new_params_only(self, items: list[Any]) -> list[Any]:
        """On resume, MLflow refuses to change a param: keep new ones, note changes as tags."""
        try:
            logged = self._client.get_run(self._run_id).data.params
        except Exception:
            return items
        changed = [i for i in items if i.key in logged and logged[i.key] != i.value]
        if changed:
            self.set_tags({f"resumed.{i.key}"[:250]: i.value for i in changed})
        return [i for i in items if i.key not in logged]

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        assert self._writer is not None, "start() first"
        self._writer.add(tags=[RunTag(str(k)[:250], redact(str(v))[:8000]) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        assert self._writer is not None, "start() first"
        self._writer.add(metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()])

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        """Upload a file or folder now; on failure remember it for the spool."""
        source = Path(path)
        try:
            run_id = self._ensure_run()
            if source.is_dir():
                self._client.log_artifacts(run_id, str(source), artifact_path)
            else:
                self._client.log_artifact(run_id, str(source), artifact_path)
        except Exception as exc:
            log.warning(
                "Could not upload %s (%s); it is kept for `trainer upload`.",
                source.name,
                describe_error(exc),
            )
            self._failed_artifacts.append({"path": str(source.resolve()), "artifact_path": artifact_path})

    def log_dataset(self, frames: dict[str, Any], *, name: str, source: str, target: str) -> None:
        """Record each split as a dataset input (name, source, digest, rows) with its context."""
        if not self.log_datasets:
            return
        try:
            from mlflow.data.code_dataset_source import CodeDatasetSource
            from mlflow.data.pandas_dataset import from_pandas
            from mlflow.entities import DatasetInput, InputTag

            run_id = self._ensure_run()
            origin = CodeDatasetSource(tags={"source": redact(source)})  # no guessing of source types
            inputs = []
            for split, frame in frames.items():
                if len(frame) == 0:
                    continue
                with warnings.catch_warnings():  # MLflow's hint about integer columns is noise here
                    warnings.simplefilter("ignore")
                    dataset = from_pandas(frame, source=origin, name=f"{name}-{split}", targets=target)
                    entity = dataset._to_mlflow_entity()
                inputs.append(DatasetInput(entity, tags=[InputTag("mlflow.data.context", split)]))
            self._client.log_inputs(run_id, datasets=inputs)
        except Exception as exc:  # unreachable store or an unusual source: the run goes on
            log.warning("Could not record the data set inputs: %s", describe_error(exc))

    def log_model(self, local_dir: Path, *, name: str = "model", step: int = 0) -> str | None:
        """Upload a saved MLflow model folder as a LoggedModel of this run; register it if asked.

        Returns:
            The model URI (``models:/<id>``), or None when it could not be uploaded.
        """
        try:
            from mlflow.entities import LoggedModelOutput, LoggedModelStatus

            run_id = self._ensure_run()
            assert self.experiment_id is not None
            model = self._client.create_logged_model(self.experiment_id, name=name, source_run_id=run_id)
            self._client.log_model_artifacts(model.model_id, str(local_dir))
            self._client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
            # Listed as the run's output, so the run page links to the model.
            self._client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step)])
            uri = f"models:/{model.model_id}"
            self.set_tags({"model_uri": uri})
        except Exception as exc:
            log.warning("Could not upload the model (%s); it stays in %s.", describe_error(exc), local_dir)
            self._failed_artifacts.append({"path": str(Path(local_dir).resolve()), "artifact_path": name})
            return None
        if self.registered_model_name:
            try:  # the model is uploaded either way: a failed registration must not spool it again
                self._register(model.model_id, run_id)
            except Exception as exc:
                log.warning(
                    "Could not register the model as %r: %s", self.registered_model_name, describe_error(exc)
                )
        return uri

    def _register(self, model_id: str, run_id: str) -> None:
        name = self.registered_model_name
        with contextlib.suppress(Exception):  # it exists already: add a version to it
            self._client.create_registered_model(name)
        # Not the models:/ URI as source: MLflow's SQL registry resolves that through the global
        # tracking URI, not this client's (looking in ./mlflow.db); the location is what it stores.
        source = self._client.get_logged_model(model_id).artifact_location
        version = self._client.create_model_version(name, source=source, run_id=run_id, model_id=model_id)
        log.info("Registered the model as %s version %s.", name, version.version)

    # ---------------------------------------------------------------- end
    def finalize(self, status: str) -> None:
        """Deliver everything, close the run with ``status``; spool what cannot be delivered."""
        if self._finalized or self._writer is None:
            return
        self._finalized = True
        if self._system_monitor is not None:
            try:
                self._system_monitor.finish()
            except Exception as exc:
                log.debug("System metrics monitor did not stop cleanly: %s", describe_error(exc))
        left = self._writer.close(timeout=self.close_timeout)
        closed = False
        if self._run_id and not left:
            try:
                self._client.set_terminated(self._run_id, status=status)
                closed = True
            except Exception as exc:
                log.warning("Could not mark the MLflow run %s: %s", status, describe_error(exc))
        if not (closed and not self._failed_artifacts):
            self._write_spool(left, status)
        self._restore_env()

    def _write_spool(self, left: Any, status: str) -> None:
        assert self.run_dir is not None
        tags = [{"key": t.key, "value": t.value} for t in left.tags]
        if not self._run_id:  # the configured tags go with create_run, which never happened
            tags[:0] = [{"key": str(k), "value": redact(str(v))} for k, v in self.extra_tags.items()]
        spool = Spool(
            SpoolHeader(self.safe_uri, self.experiment_name, self.run_name or "", self._run_id),
            params=[{"key": p.key, "value": p.value} for p in left.params],
            tags=tags,
            metrics=[
                {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
                for m in left.metrics
            ],
            artifacts=list(self._failed_artifacts),
            status=status,
        )
        self.spool_path = write_spool(self.run_dir / SPOOL_NAME, spool)
        log.warning(
            "MLflow at %s did not take %d records; they are saved in %s. Upload them when the server "
            "is back with: trainer upload %s",
            self.safe_uri,
            len(spool),
            self.spool_path,
            self.run_dir,
        )
