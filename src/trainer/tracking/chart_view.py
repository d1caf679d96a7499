"""A chart view of an experiment's runs that shows learning curves as a practitioner reads them:
train and validation of one metric in one chart, epochs on the x axis, the curves first.

MLflow 3.17 keeps the layout of a run's charts in the browser (local storage), so a server
cannot set it. What it can read from the server is a shared view: an experiment tag
``mlflow.sharedViewState.<key>`` holding the runs page's state (its chart cards and sections),
opened by ``#/experiments/<id>/runs?viewStateShareKey=<key>`` (the UI's own "share" button
writes the same tag). MLflow adds its generated charts for the metrics no card shows, below these.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from trainer.redact import describe_error

log = logging.getLogger(__name__)

#: The experiment tag prefix MLflow's UI reads a shared view from.
SHARED_VIEW_TAG = "mlflow.sharedViewState."
#: The metric a run logs once per epoch, used as the curves' x axis.
EPOCH_METRIC = "epoch"
TRAIN, VALIDATION = "train/", "val/"


def learning_curves_view(metric_keys: Iterable[str]) -> dict[str, Any] | None:
    """The runs page's state with one section of learning curves, or None when the metrics hold
    no per-epoch validation curve (a run stopped before its first epoch, a fraud parent)."""
    keys = set(metric_keys)
    validation = sorted(k for k in keys if k.startswith(VALIDATION))
    if EPOCH_METRIC not in keys or not validation:
        return None
    section = _stable_uuid("section")
    cards = []
    for key in validation:  # loss first: it is what the run optimizes
        name = key.removeprefix(VALIDATION)
        train = TRAIN + name
        shown = [train, key] if train in keys else [key]
        cards.append(_line(" vs ".join(shown), shown, section))
        if train in keys:
            # A card per key MLflow would otherwise draw again on its own (deleted: not shown).
            cards.append({**_line(key, [key], section), "deleted": True})
    cards.sort(key=lambda c: (c["deleted"], c["metricKey"] != TRAIN + "loss", c["displayName"]))
    return {
        "compareRunCharts": cards,
        "compareRunSections": [
            {
                "uuid": section,
                "name": "Learning curves (train and validation per epoch)",
                "display": True,
                "isReordered": False,
                "deleted": False,
                "isGenerated": False,
            }
        ],
        "isAccordionReordered": True,  # keep this section first, not sorted by name
        # Only runs that have curves: not a sweep's or a fraud study's parent.
        "searchFilter": f"metrics.{EPOCH_METRIC} > 0",
    }


def view_key(state: dict[str, Any]) -> str:
    """A short key naming ``state``: runs with the same metrics share one view."""
    text = json.dumps(state, sort_keys=True)
    return "learning-curves-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def charts_url(ui: str, experiment_id: str, key: str) -> str:
    """The address of the experiment's runs in that chart view, in MLflow's training view."""
    query = f"viewStateShareKey={key}&compareRunsMode=CHART&workflowType=machine_learning"
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def _line(name: str, keys: list[str], section: str) -> dict[str, Any]:
    """A line chart of ``keys`` against the epoch, as MLflow's UI stores one."""
    return {
        "uuid": _stable_uuid(name + str(keys)),
        "type": "LINE",
        "runsCountToCompare": 10,
        "metricSectionId": section,
        "deleted": False,
        "isGenerated": False,
        "displayName": name,
        "metricKey": keys[0],
        "selectedMetricKeys": keys,
        "lineSmoothness": 0,
        "xAxisScaleType": "linear",
        "scaleType": "linear",
        "range": {},
        "xAxisKey": "metric",
        "selectedXAxisMetricKey": EPOCH_METRIC,
        "yAxisKey": "metric",
        "yAxisExpressions": [],
        "ignoreOutliers": False,
        "useGlobalXaxisKey": False,
        "useGlobalLineSmoothing": True,
    }


def _stable_uuid(name: str) -> str:
    """The same id for the same card on every run (the view's key depends on it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "trainer-chart-view/" + name))


def publish_learning_curves(client: Any, experiment_id: str, run_id: str) -> str | None:
    """Write the chart view that fits ``run_id``'s metrics to its experiment; return its key, or
    None when the run has no learning curve or the store refused it (with a warning: the run is
    recorded already, only the view is missing)."""
    try:
        state = learning_curves_view(client.get_run(run_id).data.metrics)
        if state is None:
            return None
        key = view_key(state)
        client.set_experiment_tag(experiment_id, SHARED_VIEW_TAG + key, json.dumps(state))
    except Exception as exc:
        log.warning("MLflow did not take the learning-curves chart view: %s", describe_error(exc))
        return None
    return key
