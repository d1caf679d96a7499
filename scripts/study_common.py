"""Shared parts of the study runners: run one setting with train(), write tables into a README."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

START, END = "<!-- results:start -->", "<!-- results:end -->"


def run(overrides: list[str]) -> tuple[dict[str, float], list[dict[str, float]], float]:
    """``train()`` one setting in a temporary runs folder; its metrics, per-epoch history and seconds."""
    from trainer.config import compose_config
    from trainer.train import train

    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        result = train(compose_config([*overrides, f"paths.runs_dir={runs}"]))
        return result.metrics, result.history, time.perf_counter() - started


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_results(readme: Path, block: str) -> None:
    """Replace the text between the README's result markers with ``block``."""
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{block}\n{END}", text))
