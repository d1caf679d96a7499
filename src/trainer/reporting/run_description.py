"""The markdown a run's MLflow page opens with (``mlflow.note.content``): the run's story in a
few lines, so that its key facts do not live only in truncated tag chips."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The tag MLflow shows as a run's description.
DESCRIPTION_TAG = "mlflow.note.content"
#: MLflow's limit on a tag value (the SQL stores' column); longer text is cut with a note.
TAG_LIMIT = 8000


def command_line(command: str, overrides: Sequence[str]) -> str:
    """``trainer <command> <overrides>`` quoted for a POSIX shell."""
    return " ".join(["trainer", command, *(shlex.quote(o) for o in overrides)])


def number(value: Any) -> str:
    """A metric as a person reads it: four significant digits, ``n/a`` for NaN or nothing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.4g}" if isinstance(value, int | float) else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A markdown table; ``|`` inside a cell is escaped."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    return [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows),
    ]


def fit_to_tag(text: str) -> str:
    """``text`` within MLflow's tag limit."""
    if len(text) <= TAG_LIMIT:
        return text
    note = "\n\n(cut: the run's files hold the rest)"
    return text[: TAG_LIMIT - len(note)] + note


def training_description(
    *,
    command: str,
    history: Sequence[Mapping[str, Any]],
    monitor: str | None,
    best_value: float | None,
    tested_checkpoint: str,
    metrics: Mapping[str, float],
    verdict: str,
    model_uri: str | None,
) -> str:
    """What a training run's page says first.

    Args:
        command: the command line that made the run.
        history: one row per validated epoch (``epoch`` and the validation metrics).
        monitor: the metric the checkpoint kept the best of, if any.
        best_value: its best value.
        tested_checkpoint: the checkpoint the test split was scored with ("" for the last weights).
        metrics: the run's final metrics (``val/...`` and ``test/...``).
        verdict: the bias/variance verdict in words ("" when there is none).
        model_uri: the logged model, if any.
    """
    lines = ["**Command**", "", f"```\n{command}\n```", ""]
    best = best_epoch_line(history, monitor, best_value)
    if best:
        kept = " (the checkpoint kept and tested)" if best.startswith("best") else ""
        lines.append(f"**{best[0].upper()}{best[1:]}**{kept}.")
    tested = {k: v for k, v in metrics.items() if k.startswith("test/")}
    if tested:
        source = Path(tested_checkpoint).name if tested_checkpoint else "the last weights"
        lines += ["", f"**Test split**, scored with {source}:", ""]
        lines += markdown_table(
            ["metric", "value"], [(k.removeprefix("test/"), number(v)) for k, v in sorted(tested.items())]
        )
    if verdict:
        lines += ["", f"**Bias/variance:** {verdict}"]
    if model_uri:
        lines += [
            "",
            f"**Model:** `{model_uri}` (this run's Models tab; load it with `mlflow.pyfunc.load_model`).",
        ]
    return fit_to_tag("\n".join(lines))


def best_epoch_line(
    history: Sequence[Mapping[str, Any]], monitor: str | None, best_value: float | None
) -> str:
    """``best epoch 7 of 10, val/loss = 0.1234``; ``10 epochs`` with no monitored best; "" if none."""
    epochs = _epoch_count(history)
    best_epoch = _epoch_of(history, monitor, best_value)
    if monitor and best_epoch is not None:
        return f"best epoch {best_epoch} of {epochs}, {monitor} = {number(best_value)}"
    return f"{epochs} epochs" if epochs else ""


def best_row(
    history: Sequence[Mapping[str, Any]], monitor: str | None, value: float | None
) -> Mapping[str, Any] | None:
    """The first history row whose ``monitor`` equals the kept best value: the checkpoint's epoch."""
    if not monitor or value is None:
        return None
    for row in history:
        seen = row.get(monitor)
        if seen is not None and math.isclose(float(seen), float(value), rel_tol=1e-9, abs_tol=1e-12):
            return row
    return None


def _epoch_of(history: Sequence[Mapping[str, Any]], monitor: str | None, value: float | None) -> str | None:
    """The best row's epoch (the history counts epochs completed, from 1; a validation inside an
    epoch is a fraction)."""
    row = best_row(history, monitor, value)
    if row is None:
        return None
    epoch = float(row.get("epoch", history.index(row) + 1))
    return str(int(epoch)) if epoch.is_integer() else f"{epoch:.2f}"


def _epoch_count(history: Sequence[Mapping[str, Any]]) -> int:
    return math.ceil(float(history[-1].get("epoch", len(history)))) if history else 0
