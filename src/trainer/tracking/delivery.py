"""Turn journal records into MLflow calls: the one place a record becomes part of a run.

The live logger and ``trainer upload`` both deliver through these functions, so a run uploaded
from its journal carries the same record as a live one: params, tags, metrics with their
original timestamps, dataset inputs, artifacts, the logged model (linked as the run's output,
tagged ``model_uri``, registered when asked) and the run's original start and end times.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

from trainer.redact import describe_error
from trainer.tracking.mlflow_experiment import get_or_create_experiment
from trainer.tracking.mlflow_private import dataset_entity
from trainer.tracking.sql_metrics import insert_metrics, sql_store
from trainer.tracking.store_lock import store_lock

log = logging.getLogger(__name__)

Record = dict[str, Any]
MISSING_RUN = "RESOURCE_DOES_NOT_EXIST"
ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
#: The tag naming the run a resumed run continues, when the store did not have that run.
RESUMED_FROM_TAG = "resumed_from"
#: The tag holding the journal's run key: a run made from a journal carries it, so a creation
#: whose answer never reached the journal (the process was killed in between, or the reply was
#: lost) is found again by its key instead of being made twice.
RUN_KEY_TAG = "trainer.run_key"


def log_batch(client: Any, run_id: str, records: list[Record]) -> None:
    """Send metric, param and tag records (within MLflow's limits of one ``log_batch`` call), and
    the run's status record when it comes last: it closes the run after the rest has arrived.

    On a SQLite or PostgreSQL store the metrics go in through :mod:`trainer.tracking.sql_metrics`
    (the same rows, a tenth of the CPU) after the params and tags, and the status in the same
    transaction as the metrics; any other store gets one ``MlflowClient.log_batch`` call, then
    ``set_terminated``. Either way an exact duplicate point is ignored, so a resent batch stores
    each point once.
    """
    from mlflow.entities import Metric, Param, RunTag

    status = records[-1] if records and records[-1]["kind"] == "status" else None
    if any(r["kind"] == "status" for r in records[:-1]):
        raise ValueError("a status record closes the run: it must come last")
    params = [Param(r["key"], r["value"]) for r in records if r["kind"] == "param"]
    tags = [RunTag(r["key"], r["value"]) for r in records if r["kind"] == "tag"]
    store = sql_store(client)
    if store is not None:
        if params or tags:
            client.log_batch(run_id, params=params, tags=tags, synchronous=True)
        insert_metrics(store, run_id, [r for r in records if r["kind"] == "metric"], status=status)
        return
    metrics = [
        Metric(r["key"], float(r["value"]), int(r["timestamp"]), int(r["step"]))
        for r in records
        if r["kind"] == "metric"
    ]
    if metrics or params or tags:
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags, synchronous=True)
    if status is not None:
        _set_terminated(client, run_id, status)


def metric_pairs(client: Any, run_id: str) -> set[tuple[str, int]]:
    """Every ``(key, step)`` the run already has in the store (what a replay must not repeat)."""
    keys = client.get_run(run_id).data.metrics.keys()
    return {(key, int(m.step)) for key in keys for m in client.get_metric_history(run_id, key)}


def open_run(
    client: Any,
    *,
    tracking_uri: str,
    experiment_name: str,
    run_name: str,
    run_id: str | None,
    tags: dict[str, str],
    start_time: int | None,
    run_key: str | None = None,
    may_exist: bool = False,
) -> tuple[str, str, str | None]:
    """Reopen ``run_id`` (set RUNNING) or create a run; return (run id, experiment id, resumed from).

    A ``run_id`` that this store does not have (a checkpoint brought from another store) is not
    an error: a new run is made, tagged ``resumed_from=<run_id>``, and the old id is returned
    third so the caller can say so.

    Args:
        run_key: the journal's key, tagged on a run this makes (:data:`RUN_KEY_TAG`).
        may_exist: an earlier attempt may have made the run with ``run_key`` without its id
            being recorded: look for it first and reopen it rather than make a second one.
    """
    with store_lock(tracking_uri):  # the first touch may create and migrate a SQLite store
        experiment_id = get_or_create_experiment(client, experiment_name)
    if run_id:
        try:
            run = client.get_run(run_id)
        except Exception as exc:
            if getattr(exc, "error_code", None) != MISSING_RUN:
                raise
        else:
            client.update_run(run_id, status="RUNNING")
            return run_id, str(run.info.experiment_id), None
        tags = {**tags, RESUMED_FROM_TAG: run_id}
    if run_key:
        found = find_run_by_key(client, experiment_id, run_key) if may_exist else None
        if found is not None:
            client.update_run(found, status="RUNNING")  # reopened, like a run found by its id
            return found, experiment_id, run_id
        tags = {**tags, RUN_KEY_TAG: run_key}
    run = client.create_run(experiment_id, start_time=start_time, run_name=run_name or None, tags=tags)
    return run.info.run_id, experiment_id, run_id


def find_run_by_key(client: Any, experiment_id: str, run_key: str) -> str | None:
    """The id of the active run in the experiment tagged with ``run_key``, or None."""
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}'", max_results=1
    )
    return runs[0].info.run_id if runs else None


def dataset_inputs(frames: dict[str, Any], *, name: str, source: str, target: str) -> list[Any]:
    """MLflow ``DatasetInput`` entities of each non-empty split (name, source, digest, schema, rows).

    Args:
        frames: split name -> DataFrame of its rows.
        name: the data set's name; each split is ``<name>-<split>``.
        source: where the data came from (already redacted).
        target: the target column.
    """
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    origin = CodeDatasetSource(tags={"source": source})  # no guessing of source types
    inputs = []
    for split, frame in frames.items():
        if len(frame) == 0:
            continue
        with warnings.catch_warnings():  # MLflow's hint about integer columns is noise here
            warnings.simplefilter("ignore")
            dataset = from_pandas(frame, source=origin, name=f"{name}-{split}", targets=target)
            entity = dataset_entity(dataset)
        inputs.append(DatasetInput(entity, tags=[InputTag("mlflow.data.context", split)]))
    return inputs


def dataset_record(inputs: list[Any]) -> Record:
    """A journal record of MLflow ``DatasetInput`` entities (their fields as plain JSON)."""
    datasets = []
    for item in inputs:
        d = item.dataset
        datasets.append(
            {
                "name": d.name,
                "digest": d.digest,
                "source_type": d.source_type,
                "source": d.source,
                "schema": d.schema,
                "profile": d.profile,
                "tags": {t.key: t.value for t in item.tags},
            }
        )
    return {"kind": "dataset", "datasets": datasets}


def deliver_one(
    client: Any, run_id: str, experiment_id: str, record: Record, *, registered_model_name: str | None
) -> str | None:
    """Deliver one dataset, artifact, model or status record; raise if the store failed.

    Returns:
        The model URI for a model record, else None.
    """
    kind = record["kind"]
    if kind == "dataset":
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(
                Dataset(d["name"], d["digest"], d["source_type"], d["source"], d["schema"], d["profile"]),
                tags=[InputTag(k, v) for k, v in d["tags"].items()],
            )
            for d in record["datasets"]
        ]
        client.log_inputs(run_id, datasets=inputs)
    elif kind == "artifact":
        source = Path(record["path"])
        if source.is_dir():
            client.log_artifacts(run_id, str(source), record["artifact_path"])
        elif source.exists():
            client.log_artifact(run_id, str(source), record["artifact_path"])
        else:  # deleted since: nothing to send, and nothing to keep retrying
            log.warning("%s no longer exists; it is not uploaded.", source)
    elif kind == "model":
        return _log_model(client, run_id, experiment_id, record, registered_model_name)
    elif kind == "status":
        _set_terminated(client, run_id, record)
    else:
        raise ValueError(f"unknown journal record kind {kind!r}")
    return None


def _set_terminated(client: Any, run_id: str, record: Record) -> None:
    client.set_terminated(run_id, status=record["status"], end_time=record.get("end_time"))


def _log_model(
    client: Any, run_id: str, experiment_id: str, record: Record, registered_model_name: str | None
) -> str:
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    local_dir = Path(record["path"])
    if not local_dir.is_dir():
        raise FileNotFoundError(f"the packaged model folder {local_dir} is gone")
    model = client.create_logged_model(experiment_id, name=record["name"], source_run_id=run_id)
    client.log_model_artifacts(model.model_id, str(local_dir))
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    # Listed as the run's output, so the run page links to the model.
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, int(record["step"]))])
    _link_model(client, run_id, model.model_id, record.get("links") or {})
    uri = f"models:/{model.model_id}"
    client.set_tag(run_id, "model_uri", uri)
    if registered_model_name:
        try:  # the model is uploaded either way: a failed registration must not upload it again
            _register(client, registered_model_name, model.model_id, run_id)
        except Exception as exc:
            log.warning("Could not register the model as %r: %s", registered_model_name, describe_error(exc))
    return uri


def _link_model(client: Any, run_id: str, model_id: str, links: dict[str, Any]) -> None:
    """Give the logged model the run's params and test metrics (on the test dataset), so the
    Models tab compares models. The metrics are the points the run already holds, sent again with
    the model's id and the same timestamps: the run keeps one point each (MLflow drops the exact
    duplicate) and the model gets them. A failure leaves the model without links, with a warning."""
    from mlflow.entities import Metric

    dataset = links.get("dataset") or {}
    metrics = [
        Metric(
            key=m["key"],
            value=float(m["value"]),
            timestamp=int(m["timestamp"]),
            step=int(m["step"]),
            model_id=model_id,
            dataset_name=dataset.get("name"),
            dataset_digest=dataset.get("digest"),
        )
        for m in links.get("metrics", [])
    ]
    try:
        if links.get("params"):
            client.log_model_params(model_id, {str(k): str(v) for k, v in links["params"].items()})
        if metrics:
            client.log_batch(run_id, metrics=metrics)
    except Exception as exc:
        log.warning(
            "The model %s was logged without its params and metrics: %s", model_id, describe_error(exc)
        )


def _register(client: Any, name: str, model_id: str, run_id: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != ALREADY_EXISTS:  # a refused name or a store error: the caller warns
            raise
        # It exists already: add a version to it.
    # Not the models:/ URI as source: MLflow's SQL registry resolves that through the global
    # tracking URI, not this client's (looking in ./mlflow.db); the location is what it stores.
    source = client.get_logged_model(model_id).artifact_location
    version = client.create_model_version(name, source=source, run_id=run_id, model_id=model_id)
    log.info("Registered the model as %s version %s.", name, version.version)


#: Characters MLflow refuses in a logged model's name.
MODEL_NAME_FORBIDDEN = re.compile(r"[/:.%\"']")


def logged_model_name(run_name: str) -> str:
    """A run name as a logged model's name: the characters MLflow refuses become ``_``."""
    return MODEL_NAME_FORBIDDEN.sub("_", run_name.strip())[:250] or "model"


def model_record(local_dir: Path, *, name: str, step: int, links: dict[str, Any]) -> dict[str, Any]:
    """The journal record of a saved MLflow model folder, named after ``name`` as MLflow takes it."""
    return {
        "kind": "model",
        "path": str(Path(local_dir).resolve()),
        "name": logged_model_name(name),
        "step": step,
        "links": links,
    }


def test_dataset_of(record: dict[str, Any]) -> dict[str, str] | None:
    """The name and digest of the test split among a dataset record's inputs (a model links it)."""
    return next(
        (
            {"name": d["name"], "digest": d["digest"]}
            for d in record["datasets"]
            if d["tags"].get("mlflow.data.context") == "test"
        ),
        None,
    )
