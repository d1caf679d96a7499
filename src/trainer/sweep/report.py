"""What a person sees: one live line per trial, the final table, the command that reproduces
the best trial, and the same summary as CSV and Markdown files for the parent run."""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainer.reporting.run_description import command_line
from trainer.sweep.trial_budget import counted_trials, state_counts


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"


def trial_values(trial: FrozenTrial) -> str:
    """The trial's objective value(s) as short text."""
    if trial.values is None:
        return "-"
    return ",".join(_fmt(v) for v in trial.values)


def trial_params(trial: FrozenTrial) -> str:
    """``key=value`` of the trial's sampled parameters (the reproduce command has them all)."""
    if trial.params:
        return " ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
    return " ".join(trial.user_attrs.get("overrides", []))


class LiveReporter:
    """Prints one line per finished trial: number, values, state, best so far, ETA.

    Args:
        study_name: shown at the start of each line.
        n_trials: the study's trial budget (for the ETA).
        metrics: names of the objectives.
        n_jobs: workers sharing the study (divides the ETA).
        stream: where lines go (stdout by default).
    """

    def __init__(
        self,
        study_name: str,
        *,
        n_trials: int,
        metrics: Sequence[str],
        n_jobs: int = 1,
        stream: TextIO | None = None,
    ) -> None:
        self.study_name = study_name
        self.n_trials = n_trials
        self.metrics = list(metrics)
        self.n_jobs = n_jobs
        self.stream = stream
        self.started = time.monotonic()
        self.finished_here = 0

    def line(self, study: optuna.Study, trial: FrozenTrial) -> str:
        """The live line for ``trial`` (also printed)."""
        self.finished_here += 1
        trials = study.get_trials(deepcopy=False)
        done = sum(1 for t in counted_trials(trials) if t.state.is_finished())
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.finished_here * max(0, self.n_trials - done) / max(1, self.n_jobs)
        state = trial.state.name
        if state == "PRUNED" and trial.user_attrs.get("pruned_epoch"):
            state += f"@{trial.user_attrs['pruned_epoch']}"
        value = trial_values(trial)
        if trial.user_attrs.get("best_epoch") is not None:
            value += f" (epoch {trial.user_attrs['best_epoch']} of {trial.user_attrs.get('epochs', '?')})"
        if trial.state == TrialState.PRUNED and trial.intermediate_values:
            value = _fmt(trial.intermediate_values[max(trial.intermediate_values)])
        if trial.state == TrialState.FAIL:
            value = str(trial.user_attrs.get("fail_reason", "failed"))[:120]
        text = (
            f"[{self.study_name}] trial {trial.number} ({done}/{self.n_trials}) {state} "
            f"{'/'.join(self.metrics)}={value} | best {best_text(study)} | {trial_params(trial)} "
            f"| ETA {_duration(eta)}"
        )
        print(text, file=self.stream or sys.stdout, flush=True)
        return text


def best_text(study: optuna.Study) -> str:
    """Best value and trial number, or the Pareto front's size for several objectives."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return "-"
    if len(study.directions) > 1:
        return f"{len(study.best_trials)} on the Pareto front"
    best = study.best_trial
    return f"{_fmt(best.value)} (#{best.number})"


def ranked_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials best first (the Pareto front first for several objectives)."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        return sorted(complete, key=lambda t: (t.number not in front, t.number))
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
    return sorted(complete, key=lambda t: sign * float(t.values[0]))


def reproduce_command(base_overrides: Sequence[str], trial: FrozenTrial) -> str:
    """The exact ``trainer train ...`` that re-runs ``trial``."""
    return command_line("train", [*base_overrides, *trial.user_attrs.get("overrides", [])])


def summary_rows(study: optuna.Study, metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per counted trial: number, state, values, duration, params, run id."""
    rows = []
    for trial in counted_trials(study.get_trials(deepcopy=False)):
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
        for index, metric in enumerate(metrics):
            row[metric] = trial.values[index] if trial.values else None
        duration = trial.duration.total_seconds() if trial.duration else None
        row["seconds"] = round(duration, 2) if duration is not None else None
        row["pruned_epoch"] = trial.user_attrs.get("pruned_epoch")
        row["params"] = trial_params(trial)
        row["run_id"] = trial.user_attrs.get("run_id")
        row["fail_reason"] = trial.user_attrs.get("fail_reason")
        rows.append(row)
    return rows


def final_table(
    study: optuna.Study, *, metrics: Sequence[str], top_k: int, base_overrides: Sequence[str]
) -> str:
    """The end-of-sweep text: counts, best and top-k trials, and the reproduce command."""
    counts = state_counts(study.get_trials(deepcopy=False))
    lines = [
        f"Study {study.study_name}: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned, "
        f"{counts['FAIL']} failed, {counts['RUNNING']} running.",
    ]
    ranked = ranked_trials(study)
    if not ranked:
        lines.append("No trial completed.")
        return "\n".join(lines)
    title = "Pareto front" if len(metrics) > 1 else f"Top {min(top_k, len(ranked))}"
    goals = ", ".join(f"{m} {d.name.lower()}" for m, d in zip(metrics, study.directions, strict=True))
    lines.append(f"{title} ({goals}):")
    header = ["rank", "trial", *metrics, "params"]
    shown = ranked if len(metrics) > 1 else ranked[:top_k]
    if len(metrics) > 1:
        front = {t.number for t in study.best_trials}
        shown = [t for t in ranked if t.number in front][: max(top_k, 1) * 4]
    body = [
        [str(i + 1), str(t.number), *(_fmt(v) for v in (t.values or [])), trial_params(t)]
        for i, t in enumerate(shown)
    ]
    widths = [max(len(r[c]) for r in [header, *body]) for c in range(len(header))]
    for row in [header, *body]:
        lines.append("  " + "  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip())
    best = shown[0]
    lines.append(f"Best trial {best.number}: MLflow run {best.user_attrs.get('run_id') or '-'}")
    lines.append(f"Reproduce: {reproduce_command(base_overrides, best)}")
    return "\n".join(lines)


def write_summary(study: optuna.Study, directory: Path, *, metrics: Sequence[str]) -> list[Path]:
    """Write ``trials.csv`` and ``summary.md`` into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(study, metrics)
    csv_path = directory / "trials.csv"
    fields = ["number", "state", *metrics, "seconds", "pruned_epoch", "params", "run_id", "fail_reason"]
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    md_path = directory / "summary.md"
    header = "| " + " | ".join(fields) + " |"
    lines = [f"# Study {study.study_name}", "", header, "|" + "---|" * len(fields)]
    lines += [
        "| " + " | ".join(_fmt(r.get(f)) if r.get(f) is not None else "" for f in fields) + " |" for r in rows
    ]
    md_path.write_text("\n".join(lines) + "\n")
    return [csv_path, md_path]
