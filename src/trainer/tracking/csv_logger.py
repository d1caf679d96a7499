"""A dependency-free logger: metrics as long-format CSV and params as YAML in the run folder."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import yaml

from trainer.tracking.base import Logger


class CSVLogger(Logger):
    """Write ``metrics.csv`` (step, name, value) and ``params.yaml`` under ``save_dir``.

    Rows are kept in memory and written at ``flush_every`` points and at the end, so the
    loop never waits on the disk.

    Args:
        save_dir: where the files go; None: the run folder the run starts in (a command builds
            its logger before it makes the folder, so that a mistake leaves none).
        flush_every: points buffered before a write.
    """

    def __init__(self, *, save_dir: str | Path | None = None, flush_every: int = 1000) -> None:
        self.chosen_dir = Path(save_dir) if save_dir is not None else None
        self.flush_every = flush_every
        self._rows: list[tuple[int, str, float]] = []
        self.save_dir = self.chosen_dir or Path(".")  # known at start
        self._header_written = False

    @property
    def metrics_path(self) -> Path:
        return self.save_dir / "metrics.csv"

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
        self.save_dir = self.chosen_dir or Path(run_dir)
        self.save_dir.mkdir(parents=True, exist_ok=True)
        self._header_written = self.metrics_path.exists()

    def location_lines(self) -> list[str]:
        return [f"metrics: {self.metrics_path}"]

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        with open(self.save_dir / "params.yaml", "w") as f:
            yaml.safe_dump(params, f, sort_keys=True)

    def set_tags(self, tags: dict[str, Any]) -> None:
        with open(self.save_dir / "tags.yaml", "a") as f:
            yaml.safe_dump({str(k): str(v) for k, v in tags.items()}, f, sort_keys=True)

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        self._rows.extend((step, name, float(value)) for name, value in metrics.items())
        if len(self._rows) >= self.flush_every:
            self.flush()

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        source = Path(path)
        target = self.save_dir / (artifact_path or "") / source.name
        if source.resolve() == target.resolve():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)

    def persist(self) -> None:
        self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        with open(self.metrics_path, "a", newline="") as f:
            writer = csv.writer(f)
            if not self._header_written:
                writer.writerow(["step", "name", "value"])
                self._header_written = True
            writer.writerows(self._rows)
        self._rows.clear()

    def finalize(self, status: str) -> None:
        self.flush()
