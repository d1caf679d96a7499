"""The spool: items a tracking server never received, kept in the run folder for ``trainer upload``.

One JSON object per line. The first line says where the items were going; the rest are
params, tags, metrics, artifacts and the final status, in the order they were produced.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPOOL_NAME = "tracking_pending.jsonl"


@dataclass
class SpoolHeader:
    tracking_uri: str  # redacted: credentials come from the environment at upload time
    experiment_name: str
    run_name: str
    run_id: str | None


@dataclass
class Spool:
    header: SpoolHeader
    params: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None

    def __len__(self) -> int:
        return len(self.params) + len(self.tags) + len(self.metrics) + len(self.artifacts)


def write_spool(path: Path, spool: Spool) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"kind": "header", **asdict(spool.header)}) + "\n")
        for kind, items in (
            ("param", spool.params),
            ("tag", spool.tags),
            ("metric", spool.metrics),
            ("artifact", spool.artifacts),
        ):
            for item in items:
                f.write(json.dumps({"kind": kind, **item}) + "\n")
        if spool.status:
            f.write(json.dumps({"kind": "status", "status": spool.status}) + "\n")
    return path


def read_spool(path: Path) -> Spool:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or lines[0].get("kind") != "header":
        raise ValueError(f"{path} is not a tracking spool (no header line)")
    head = lines[0]
    spool = Spool(
        SpoolHeader(head["tracking_uri"], head["experiment_name"], head["run_name"], head["run_id"])
    )
    buckets = {"param": spool.params, "tag": spool.tags, "metric": spool.metrics, "artifact": spool.artifacts}
    for line in lines[1:]:
        kind = line.pop("kind")
        if kind == "status":
            spool.status = line["status"]
        else:
            buckets[kind].append(line)
    return spool
