"""``trainer upload <run folder>``: send a run's spooled records to MLflow once it answers again."""

from __future__ import annotations

import logging
from pathlib import Path

from trainer.errors import UserError
from trainer.redact import MASK, describe_error, redact
from trainer.tracking.mlflow_experiment import get_or_create_experiment
from trainer.tracking.batch_writer import MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH
from trainer.tracking.spool import SPOOL_NAME, read_spool

log = logging.getLogger(__name__)


def upload_spool(run_dir: str | Path, *, tracking_uri: str | None = None) -> dict[str, int | str]:
    """Deliver ``<run_dir>/tracking_pending.jsonl`` and rename it ``.uploaded``.

    Args:
        run_dir: the run folder that holds the spool.
        tracking_uri: where to send; defaults to the URI recorded in the spool. A URI that
            needed a password was recorded masked: pass it again here, or set
            MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.

    Returns:
        Counts of what was sent and the run id.

    Raises:
        UserError: no spool in the folder, or the server still cannot be reached.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    folder = Path(run_dir)
    path = folder / SPOOL_NAME
    if not path.is_file():
        raise UserError(f"{folder} has no {SPOOL_NAME}: nothing is waiting to be uploaded.")
    spool = read_spool(path)
    uri = tracking_uri or spool.header.tracking_uri
    if MASK in uri and not tracking_uri:
        uri = uri.replace(f":{MASK}@", "@")  # credentials then come from the environment
    client = MlflowClient(tracking_uri=uri)
    try:
        run_id = spool.header.run_id
        if not run_id:
            experiment_id = get_or_create_experiment(client, spool.header.experiment_name)
            run_id = client.create_run(experiment_id, run_name=spool.header.run_name).info.run_id
        params = [Param(p["key"], p["value"]) for p in spool.params]
        tags = [RunTag(t["key"], t["value"]) for t in spool.tags]
        metrics = [Metric(m["key"], m["value"], m["timestamp"], m["step"]) for m in spool.metrics]
        for start in range(0, len(params), MAX_PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start : start + MAX_PARAMS_PER_BATCH])
        for start in range(0, len(tags), MAX_TAGS_PER_BATCH):
            client.log_batch(run_id, tags=tags[start : start + MAX_TAGS_PER_BATCH])
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + MAX_METRICS_PER_BATCH])
        for artifact in spool.artifacts:
            source = Path(artifact["path"])
            if source.is_dir():
                client.log_artifacts(run_id, str(source), artifact["artifact_path"])
            elif source.exists():
                client.log_artifact(run_id, str(source), artifact["artifact_path"])
        if spool.status:
            client.set_terminated(run_id, status=spool.status)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"Could not upload to {redact(uri)}: {describe_error(exc, 300)}. Check that the server runs "
            "(and pass trainer upload <run> logger.tracking_uri=<uri> if it moved); the spool is kept."
        ) from None
    path.rename(path.with_suffix(".uploaded"))
    return {
        "run_id": run_id,
        "params": len(params),
        "tags": len(tags),
        "metrics": len(metrics),
        "artifacts": len(spool.artifacts),
    }
