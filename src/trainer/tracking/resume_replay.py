"""What a resumed run must not send twice: the replay's repeated points and params the run has.

A run resumed from a checkpoint replays the steps after it, and the store may already hold
points of those steps (the killed process sent them) and the run's params. The original point
stays and the replayed one is dropped; a param the run has is not sent again (MLflow refuses to
change a param, and with it the whole batch), and a changed value is noted as a tag instead.
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]
Point = tuple[str, int]  # (metric key, step)


def drop_replayed(records: list[Record], have: set[Point]) -> tuple[list[Record], list[Point]]:
    """The records without replayed points the run has, and the points they send.

    Args:
        records: a chunk of metric, param and tag records, in order.
        have: the ``(key, step)`` points the run already holds.

    Returns:
        The records to send, and the points among them (to add to ``have`` once sent).
    """
    sent: list[Point] = []
    kept = []
    for r in records:
        if r["kind"] == "metric":
            pair = (r["key"], int(r["step"]))
            if not r.get("carried") and (pair in have or pair in sent):
                continue  # the replay of a point the run has: the original stays
            sent.append(pair)
        kept.append(r)
    return kept, sent


def new_params_only(records: list[Record], logged: dict[str, str]) -> tuple[list[Record], dict[str, str]]:
    """The records without params the run has, and tags noting the params given a new value.

    Args:
        records: a chunk of metric, param and tag records.
        logged: the run's params in the store.

    Returns:
        The records to send, and ``resumed.<key>`` tags for each param whose value changed.
    """
    changed = [r for r in records if r["kind"] == "param" and logged.get(r["key"], r["value"]) != r["value"]]
    tags = {f"resumed.{r['key']}"[:250]: r["value"] for r in changed}
    return [r for r in records if r["kind"] != "param" or r["key"] not in logged], tags
