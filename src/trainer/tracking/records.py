"""The journal's record shapes for params, tags, metric points and a run's end.

The logger builds these plain dicts on the training thread; the journal stores them as they are
and :mod:`trainer.tracking.delivery` turns them into MLflow calls. Keys and values are cut to
MLflow's limits here, once, so a long value is shortened rather than refused with its batch.
"""

from __future__ import annotations

import time
from typing import Any

from trainer.redact import redact
from trainer.tracking.params import MAX_KEY_LENGTH, MAX_VALUE_LENGTH

Record = dict[str, Any]
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 8000


def now_ms() -> int:
    """Wall-clock time in milliseconds, MLflow's timestamp unit."""
    return int(time.time() * 1000)


def param_records(params: dict[str, Any]) -> list[Record]:
    """One record per param, its value redacted (no password in a URI reaches the store)."""
    return [
        {"kind": "param", "key": str(k)[:MAX_KEY_LENGTH], "value": redact(str(v))[:MAX_VALUE_LENGTH]}
        for k, v in params.items()
    ]


def tag_records(tags: dict[str, Any]) -> list[Record]:
    """One record per tag, its value redacted."""
    return [
        {"kind": "tag", "key": str(k)[:MAX_TAG_KEY_LENGTH], "value": redact(str(v))[:MAX_TAG_VALUE_LENGTH]}
        for k, v in tags.items()
    ]


def metric_records(metrics: dict[str, float], *, step: int) -> list[Record]:
    """One record per metric point, all stamped with the same time (the hot path: plain dicts)."""
    stamp = now_ms()
    return [
        {"kind": "metric", "key": k, "value": float(v), "timestamp": stamp, "step": step}
        for k, v in metrics.items()
    ]


def status_record(status: str) -> Record:
    """The run's end: its status and end time."""
    return {"kind": "status", "status": status, "end_time": now_ms()}
