"""The lines a command prints at its end about an MLflow run: where it is and how to open it."""

from __future__ import annotations

from pathlib import Path

#: MLflow 3's own default store: a bare ``mlflow ui`` in the same folder shows its runs.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def mlflow_location_lines(
    *,
    safe_uri: str,
    run_id: str | None,
    experiment_name: str,
    undelivered: int,
    journal_path: Path | None,
    run_dir: Path | None,
) -> list[str]:
    """Where the run is and how to browse it, or, when records wait, how to send them.

    Args:
        safe_uri: the tracking URI with any password masked.
        run_id: the run MLflow holds.
        experiment_name: the run's experiment.
        undelivered: records the store did not take.
        journal_path: the journal they wait in.
        run_dir: the run folder ``trainer upload`` takes.
    """
    if undelivered:
        return [
            f"MLflow did not get {undelivered} records: they wait in {journal_path}",
            f"send them when the server is back: trainer upload {run_dir}",
        ]
    lines = [f"MLflow run {run_id} in experiment {experiment_name!r} at {safe_uri}"]
    if safe_uri.startswith(("http://", "https://")):
        lines.append(f"browse it: open {safe_uri} in a browser")
    else:
        store = "" if safe_uri == DEFAULT_TRACKING_URI else f" --backend-store-uri {safe_uri}"
        lines.append(f"browse it: mlflow ui{store}   then open http://127.0.0.1:5000")
    return lines
