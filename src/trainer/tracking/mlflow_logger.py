"""MLflow logger: every run recorded, batched off the training thread, never the reason a run dies.

Every record goes to the run folder's journal (``tracking_journal.jsonl``) as it is produced
and is marked there once MLflow has it. Metrics, params and tags go through a
:class:`BatchWriter` thread, which journals them within one flush interval and sends them in
batches; datasets, files and the model are journaled and sent when they are given. If the
tracking store is unreachable (at start or mid-run) records wait and are retried with backoff;
what is still undelivered when the run ends (or when the process is killed) stays in the
journal, and ``trainer upload <run folder>`` or a resume from the run's checkpoint sends it,
exactly once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from trainer.redact import describe_error, redact
from trainer.tracking.base import Logger
from trainer.tracking.batch_writer import BatchWriter
from trainer.tracking.carry import open_journal
from trainer.tracking.chart_view import publish_learning_curves
from trainer.tracking.delivery import (
    dataset_inputs,
    dataset_record,
    deliver_one,
    log_batch,
    metric_pairs,
    model_record,
    test_dataset_of,
)
from trainer.tracking.journal import Journal, split_batched
from trainer.tracking.mlflow_env import MlflowEnvironment
from trainer.tracking.mlflow_location import DEFAULT_TRACKING_URI, mlflow_location_lines, run_url, ui_address
from trainer.tracking.mlflow_run import PendingRun
from trainer.tracking.provenance import source_tags
from trainer.tracking.records import metric_records, param_records, status_record, tag_records
from trainer.tracking.resume_replay import drop_replayed, new_params_only
from trainer.tracking.slow_queue import SlowQueue
from trainer.tracking.store_check import check_tracking_store, is_database_server
from trainer.tracking.store_errors import is_permanent_error
from trainer.tracking.store_lock import make_client
from trainer.tracking.system_metrics import start_system_metrics, stop_system_metrics

log = logging.getLogger(__name__)

Record = dict[str, Any]


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
        flush_interval: seconds between background deliveries (and journal writes).
        close_timeout: how long the end of a run waits for an unreachable store.
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
        # A store that cannot work (malformed, unwritable, no driver, a database server that
        # refuses the login or lacks the database) stops the run here, in one line; a server that
        # is merely down passes, and its records are kept and retried.
        check_tracking_store(self.tracking_uri, timeout=request_timeout)
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
        self.journal_path: Path | None = None
        self._left = 0  # records left in the journal when the run ended
        self._run: PendingRun | None = None  # made by start()
        self._client: Any = None  # made when the run is first opened
        self._client_lock = threading.Lock()
        self._writer: BatchWriter | None = None
        self._journal: Journal | None = None
        self._system_monitor: Any = None
        self._finalized = False
        self._slow: SlowQueue | None = None  # journaled dataset/artifact/model/status records
        self._prior: list[Record] = []  # carried records the old run has: sent only to a new run
        # On resume: the (key, step) points the run has, which the replay must not send again.
        self._have: set[tuple[str, int]] | None = None
        self._resumed_existing = False
        self._environment = MlflowEnvironment()  # set by start(), put back by finalize()
        # What the logged model is linked to (the Models tab compares models by these): the
        # run's params, its test metrics as logged (same timestamps: the run keeps one point
        # each), and the test split's dataset.
        self._model_params: dict[str, str] = {}
        self._test_points: dict[str, Record] = {}
        self._test_dataset: dict[str, str] | None = None
        self._curves_key: str | None = None  # the experiment's chart view, once written

    # ---------------------------------------------------------------- lifecycle
    @property
    def run_id(self) -> str | None:
        # Before the store answers, a resumed run is still the checkpoint's run: later
        # checkpoints keep pointing at it (the journal says if it became another one).
        return None if self._run is None else self._run.run_id or self._run.resume_run_id

    @property
    def experiment_id(self) -> str | None:
        """The run's experiment, once the store answered."""
        return None if self._run is None else self._run.experiment_id

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
    def undelivered(self) -> int:
        """Records the store refused, plus those left in the journal when the run ended."""
        return self._left + (self._slow.rejected if self._slow is not None else 0)

    @property
    def pending_path(self) -> Path | None:
        return self.journal_path if self.undelivered else None

    def location_lines(self) -> list[str]:
        return mlflow_location_lines(
            safe_uri=self.safe_uri,
            run_id=None if self._run is None else self._run.run_id,
            experiment_id=self.experiment_id,
            experiment_name=self.experiment_name,
            undelivered=self.undelivered,
            journal_path=self.journal_path,
            run_dir=self.run_dir,
            curves_key=self._curves_key,
        )

    def run_address(self, run_id: str) -> str | None:
        experiment_id = self.experiment_id
        return run_url(ui_address(self.safe_uri), experiment_id, run_id) if experiment_id else None

    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
        resume_step: int | None = None,
        resume_from: Path | None = None,
        run_key: str | None = None,
    ) -> None:
        """Open the journal and the run (or reopen ``resume_run_id``); start the background writer.

        A resume (``resume_from``, the checkpoint) carries over what the killed run's journal
        holds up to ``resume_step``; later points are produced again by the replay. A given
        ``run_key`` may have been used before: the run tagged with it is looked for first.
        """
        self._environment.apply(request_timeout=self.request_timeout)
        self.run_name = self.run_name or run_name
        self.run_dir = run_dir
        tags = {**source_tags(), **{str(k): redact(str(v)) for k, v in self.extra_tags.items()}}
        if parent_run_id:  # MLflow's UI nests the run under its parent by this tag
            tags["mlflow.parentRunId"] = parent_run_id
        self._run = PendingRun(
            tracking_uri=self.tracking_uri,
            experiment_name=self.experiment_name,
            run_name=self.run_name or "",
            resume_run_id=resume_run_id or None,
            tags=tags,
        )
        header = self._run.journal_header(
            parent_run_id=parent_run_id or None,
            resume_step=resume_step,
            registered_model_name=self.registered_model_name,
            run_key=run_key,
            run_dir=run_dir,
        )
        self._journal, carry = open_journal(run_dir, header, resume_from=resume_from, resume_step=resume_step)
        self.journal_path = self._journal.path
        # The journal knows whether the run moved to a new one, and when it really started; a
        # killed run may have made its run without the id reaching its journal: look first.
        self._run.adopt(header, may_exist=bool(run_key or (carry and carry.run_key)))
        if self._run.resume_run_id:
            self._have = carry.metric_pairs if carry else set()
        self._slow = SlowQueue(self._journal, self._deliver_slow, is_permanent_error)
        if not is_database_server(self.tracking_uri):  # opened now (a file store is made here)
            self._client = make_client(self.tracking_uri)  # may create the store: under its lock
        self._writer = BatchWriter(
            self._send,
            journal=self._journal,
            flush_interval=self.flush_interval,
            is_permanent=is_permanent_error,
            name="trainer-mlflow",
        )
        if carry:
            self._prior = [r for r in carry.records if r.get("prior")]
            batched, self._slow.records = split_batched(r for r in carry.records if not r.get("prior"))
            self._writer.add_journaled(batched)
        try:
            self._ensure_run()
        except Exception as exc:  # unreachable or refusing at start: the writer keeps trying, and says so
            log.warning(
                "MLflow tracking store %s is unreachable (%s); training goes on, and the "
                "records are kept in %s until it answers.",
                self.safe_uri,
                describe_error(exc),
                self.journal_path,
            )
            return
        log.info("MLflow run %s in experiment %r at %s", self.run_id, self.experiment_name, self.safe_uri)
        self._slow.flush()

    def _ensure_run(self) -> str:
        assert self._run is not None, "start() first"
        with self._client_lock:  # the run's thread and the writer thread may both be first
            if self._client is None:
                # May create the store (under its lock); a database server that is away raises
                # at once, and the records wait for the next try, as for an http server.
                self._client = make_client(self.tracking_uri, timeout=self.request_timeout)
        return self._run.ensure(self._client, self._on_run_open)

    def _on_run_open(self, run_id: str, missing: str | None) -> None:
        """The run is open (under its lock): settle the carried records and start the sampler."""
        assert self._run is not None and self._journal is not None
        self._resumed_existing = bool(self._run.resume_run_id) and not missing
        if self._have is not None and self._resumed_existing:
            self._have |= metric_pairs(self._client, run_id)
        self._journal.mark("run", run_id=run_id, resumed_from=missing)
        prior, self._prior = self._prior, []
        if self._resumed_existing:  # the store has them already
            self._journal.mark("delivered", (r["seq"] for r in prior))
        elif prior:  # a new run: it gets the whole history the old one had
            assert self._writer is not None and self._slow is not None
            batched, one_by_one = split_batched(prior)
            self._writer.add_journaled(batched)
            self._slow.hand_over(one_by_one)
        if self.log_system_metrics:
            self._system_monitor = start_system_metrics(
                run_id, interval=self.system_metrics_interval, tracking_uri=self.tracking_uri
            )

    def _send(self, records: list[Record]) -> None:
        """Deliver one chunk (on the writer thread); a replayed point the run has is skipped."""
        run_id = self._ensure_run()
        have, sent = self._have, list[tuple[str, int]]()
        if have is not None:
            records, sent = drop_replayed(records, have)
        if self._resumed_existing and any(r["kind"] == "param" for r in records):
            # MLflow refuses to change a param (and with it the whole batch): keep new ones. A
            # failed lookup raises, like a failed send: the writer keeps the records and retries.
            records, changed = new_params_only(records, self._client.get_run(run_id).data.params)
            if changed:
                self.set_tags(changed)
        log_batch(self._client, run_id, records)
        if have is not None:
            have.update(sent)

    # ---------------------------------------------------------------- records
    def log_hyperparams(self, params: dict[str, Any]) -> None:
        assert self._writer is not None, "start() first"
        records = param_records(params)
        self._model_params.update({r["key"]: r["value"] for r in records})
        self._writer.add(records)

    def set_tags(self, tags: dict[str, Any]) -> None:
        assert self._writer is not None, "start() first"
        self._writer.add(tag_records(tags))

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        # The hot path: plain dicts into a list; the writer thread journals and sends them.
        assert self._writer is not None, "start() first"
        records = metric_records(metrics, step=step)
        for key, record in zip(metrics, records, strict=True):
            if key.startswith("test/"):
                self._test_points[key] = record
        self._writer.add(records)

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        """Journal a file or folder and upload it now (if the store answers)."""
        source = Path(path).resolve()
        self._record_slow({"kind": "artifact", "path": str(source), "artifact_path": artifact_path})

    def log_dataset(self, frames: dict[str, Any], *, name: str, source: str, target: str) -> None:
        """Record each split as a dataset input (name, source, digest, rows) with its context."""
        if not self.log_datasets:
            return
        try:
            inputs = dataset_inputs(frames, name=name, source=redact(source), target=target)
        except Exception as exc:  # an unusual frame or source: the run goes on
            log.warning("Could not describe the data set inputs: %s", describe_error(exc))
            return
        record = dataset_record(inputs)
        self._test_dataset = test_dataset_of(record)
        self._record_slow(record)

    def log_model(self, local_dir: Path, *, name: str | None = None, step: int = 0) -> str | None:
        """Upload a saved MLflow model folder as a LoggedModel of this run; register it if asked.

        The model is named ``name``, by default after the run (the Models tab lists models by
        name: "model" for every run tells them apart by nothing).

        Returns:
            The model URI (``models:/<id>``), or None when it could not be uploaded yet (it is
            in the journal, and ``trainer upload`` sends it).
        """
        links = {"params": dict(self._model_params), "metrics": list(self._test_points.values())}
        record = model_record(local_dir, name=name or self.run_name or "", step=step, links=links)
        return self._record_slow({**record, "links": {**links, "dataset": self._test_dataset}})

    def _record_slow(self, record: Record) -> str | None:
        assert self._slow is not None, "start() first"
        return self._slow.add(record)

    def _deliver_slow(self, record: Record) -> str | None:
        """Send one dataset, artifact, model or status record (for :class:`SlowQueue`)."""
        run_id = self._ensure_run()
        assert self.experiment_id is not None
        return deliver_one(
            self._client, run_id, self.experiment_id, record, registered_model_name=self.registered_model_name
        )

    def persist(self) -> None:
        """Journal what is still queued (a checkpoint is about to be written)."""
        if self._writer is not None:
            self._writer.persist()

    # ---------------------------------------------------------------- end
    def finalize(self, status: str) -> None:
        """Deliver everything and close the run with ``status``; what the store did not take
        stays in the journal, and the last lines say how to send it."""
        run, writer, journal, slow = self._run, self._writer, self._journal, self._slow
        if self._finalized or run is None or writer is None or journal is None or slow is None:
            return
        self._finalized = True
        if self._system_monitor is not None:
            stop_system_metrics(self._system_monitor)
        end = status_record(status)
        # The status goes last: an upload must not find a closed run missing points. With the
        # run open and no dataset or file waiting, it goes with the writer's last points, in the
        # same transaction on a SQL store: one commit (on SQLite, fsyncs) fewer per run.
        with_points = run.run_id is not None and slow.idle
        left = writer.close(timeout=self.close_timeout, last=end if with_points else None)
        if not with_points:
            journal.append([end])
            if not left:
                slow.records.append(end)
                slow.flush()
        self._left += len(left) + len(slow.records) + (1 if left and not with_points else 0)
        journal.close()
        # A top-level run's learning curves as the experiment's chart view (a sweep trial or a
        # fraud member is a child: its parent prints the addresses, and its curves need no view).
        top_level = "mlflow.parentRunId" not in run.tags and self._client is not None
        if top_level and not self.undelivered and run.run_id and self.experiment_id is not None:
            self._curves_key = publish_learning_curves(self._client, self.experiment_id, run.run_id)
        if self.undelivered:
            log.warning("%s (store: %s)", "; ".join(self.location_lines()), self.safe_uri)
        self._environment.restore()
