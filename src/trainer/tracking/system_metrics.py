"""CPU, memory (and GPU) samples of a run, by MLflow's own monitor: never the reason a run dies."""

from __future__ import annotations

import logging
from typing import Any

from trainer.redact import describe_error

log = logging.getLogger(__name__)


def start_system_metrics(run_id: str, *, interval: float, tracking_uri: str) -> Any | None:
    """Start sampling into ``run_id`` every ``interval`` seconds; None (and a warning) if it cannot.

    Args:
        run_id: the run the samples go to.
        interval: seconds between samples.
        tracking_uri: the run's store.
    """
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run_id, sampling_interval=interval, tracking_uri=tracking_uri)
        monitor.start()
    except Exception as exc:  # psutil missing or the monitor failed: a run never dies of it
        log.warning("System metrics are off: %s", describe_error(exc))
        return None
    return monitor


def stop_system_metrics(monitor: Any) -> None:
    """Stop a monitor from :func:`start_system_metrics`, sending its last samples."""
    try:
        monitor.finish()
    except Exception as exc:  # the run is ending: it must still close, but the user hears of it
        log.warning(
            "System metrics did not stop cleanly (the last samples may be missing): %s", describe_error(exc)
        )
