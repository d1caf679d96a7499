"""The lines a command prints at its end about an MLflow run: where it is and how to open it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from trainer.tracking.chart_view import charts_url

#: MLflow 3's own default store: a bare ``mlflow ui`` in the same folder shows its runs.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
#: Where ``mlflow ui`` serves, unless told otherwise.
LOCAL_UI = "http://127.0.0.1:5000"
#: MLflow 3 opens an experiment on its GenAI dashboard unless the URL asks for the training view
#: (the UI keeps the last choice in the browser, so a fresh profile would land on traces).
TRAINING_VIEW = "workflowType=machine_learning"
#: How the line with the run's address starts.
OPEN = "open: "


def run_url(ui: str, experiment_id: str, run_id: str) -> str:
    """The address of a run's page in MLflow's training view.

    Args:
        ui: where the MLflow UI is served (the tracking server's URL, or ``mlflow ui``'s).
        experiment_id: the run's experiment.
        run_id: the run.
    """
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_VIEW}"


def address_in(lines: list[str]) -> str | None:
    """The run address among a run's location lines (:func:`mlflow_location_lines`), if any."""
    return next((line.removeprefix(OPEN) for line in lines if line.startswith(OPEN)), None)


def ui_address(tracking_uri: str) -> str:
    """Where a user opens the UI of ``tracking_uri``: the server itself without any user or
    password (the browser asks for them), or a local ``mlflow ui``."""
    if not tracking_uri.startswith(("http://", "https://")):
        return LOCAL_UI
    parts = urlsplit(tracking_uri)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def mlflow_location_lines(
    *,
    safe_uri: str,
    run_id: str | None,
    experiment_id: str | None,
    experiment_name: str,
    undelivered: int,
    journal_path: Path | None,
    run_dir: Path | None,
    curves_key: str | None = None,
) -> list[str]:
    """Where the run is and how to open it, or, when records wait, how to send them.

    Args:
        safe_uri: the tracking URI with any password masked.
        run_id: the run MLflow holds.
        experiment_id: its experiment's id (None when the store never answered).
        experiment_name: the run's experiment.
        undelivered: records the store did not take.
        journal_path: the journal they wait in.
        run_dir: the run folder ``trainer upload`` takes.
        curves_key: the experiment's chart view of learning curves (``chart_view``), if written.
    """
    if undelivered:
        return [
            f"MLflow did not get {undelivered} records: they wait in {journal_path}",
            f"send them when the server is back: trainer upload {run_dir}",
        ]
    lines = [f"MLflow run {run_id} in experiment {experiment_name!r} at {safe_uri}"]
    if not safe_uri.startswith(("http://", "https://")):
        # The exact store, from any folder: `mlflow ui` alone opens the ./mlflow.db where it runs.
        lines.append(f"browse it: mlflow ui --backend-store-uri {_absolute(safe_uri)}")
    if run_id and experiment_id:
        if curves_key:
            lines.append(f"curves: {charts_url(ui_address(safe_uri), experiment_id, curves_key)}")
        lines.append(f"{OPEN}{run_url(ui_address(safe_uri), experiment_id, run_id)}")
    elif safe_uri.startswith(("http://", "https://")):
        lines.append(f"browse it: open {safe_uri} in a browser")
    return lines


def _absolute(uri: str) -> str:
    """``sqlite:///mlflow.db`` (relative to where the command ran) as an absolute URI."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////") and uri != "sqlite:///:memory:":
        return f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"
    return uri
