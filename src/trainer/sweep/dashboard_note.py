"""The notes optuna-dashboard shows beside a study and each trial: their MLflow runs as links,
and a trial's parameters as the overrides that reproduce it.

optuna-dashboard renders a markdown note per study and per trial, kept in the study's storage
(``optuna_dashboard.save_note``). Its params table shows each value as Optuna stored it: since
``step_rounding`` a stepped float is stored as written, but a study made before it (or by another
tool) can read 0.30000000000000004. The note gives every value as it was meant,
``model.dropout=0.3``, ready to paste after ``trainer train``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna_dashboard import save_note

from trainer.sweep.space import to_override


def _link(label: str, run_id: str, address: str | None) -> str:
    return f"[{label} {run_id}]({address})" if address else f"{label} {run_id}"


def trial_note(number: int, params: Mapping[str, Any], *, run_id: str | None, address: str | None) -> str:
    """Markdown for trial ``number``: its MLflow run (a link when the tracker has pages) and
    the overrides of its parameters."""
    lines = [f"## Trial {number}", ""]
    if run_id:
        lines += [_link("MLflow run", run_id, address), ""]
    if params:
        overrides = " ".join(to_override(key, value) for key, value in params.items())
        lines += ["Reproduce with these overrides:", "", "```", overrides, "```"]
    return "\n".join(lines)


def save_trial_note(trial: optuna.Trial, *, run_id: str | None, address: str | None) -> None:
    """Write the trial's note where optuna-dashboard reads it (the study's storage)."""
    save_note(trial, trial_note(trial.number, trial.params, run_id=run_id, address=address))


def save_study_note(study: optuna.Study, *, run_id: str | None, address: str | None) -> None:
    """Write the study's note: its MLflow parent run, where every trial's run is listed."""
    if not run_id:
        return
    body = "\n".join(
        [
            f"## {study.study_name}",
            "",
            _link("MLflow parent run", run_id, address)
            + ": every trial's run, ranked, and the refit of the best.",
        ]
    )
    save_note(study, body)
