"""The sweep parent run's description (its MLflow page's first words): the ranked top trials
with links to their runs, the refit of the winner, and the command that reproduces it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna

from trainer.reporting.run_description import fit_to_tag, markdown_table, number
from trainer.sweep.best_refit import Refit
from trainer.sweep.report import ranked_trials, trial_params
from trainer.sweep.trial_budget import state_counts


def sweep_description(
    study: optuna.Study,
    *,
    metrics: Sequence[str],
    top_k: int,
    command: str | None,
    refit: Refit | None,
    address: Callable[[str], str | None],
) -> str:
    """Markdown for the parent run of ``study``.

    Args:
        study: the study.
        metrics: its metrics, in order.
        top_k: how many of the ranked trials to show.
        command: the ``trainer train`` command that reproduces the best trial.
        refit: the refit of the best trial, if one ran here.
        address: a run id's page in the tracker's UI (None: no link).
    """
    counts = state_counts(study.get_trials(deepcopy=False))
    goals = ", ".join(f"{m} ({d.name.lower()})" for m, d in zip(metrics, study.directions, strict=True))
    lines = [
        f"**Study** `{study.study_name}`: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned, "
        f"{counts['FAIL']} failed trials; ranked by {goals}, each trial by its best epoch.",
        "",
    ]
    ranked = ranked_trials(study)[: max(top_k, 1)]
    if not ranked:
        return fit_to_tag("\n".join([*lines, "No trial completed."]))
    rows = []
    for rank, trial in enumerate(ranked, start=1):
        run_id = str(trial.user_attrs.get("run_id") or "")
        link = address(run_id) if run_id else None
        rows.append(
            [
                rank,
                f"[{trial.number}]({link})" if link else trial.number,
                *(number(v) for v in trial.values or []),
                f"`{trial_params(trial)}`",
            ]
        )
    lines += markdown_table(["rank", "trial", *metrics, "params"], rows)
    if refit is not None and refit.run_id and not refit.error:
        link = address(refit.run_id)
        verdict = "reproduced" if refit.reproduced else "not reproduced"
        tested = ", ".join(
            f"{k} {number(v)}" for k, v in sorted(refit.metrics.items()) if k.startswith("test/")
        )
        lines += [
            "",
            f"**Best trial {refit.trial}, trained again with the full record** "
            f"({verdict}, {metrics[0]} {number(refit.value)}): "
            + (f"[its run]({link})" if link else f"run `{refit.run_id}`")
            + (f"; test split: {tested}" if tested else "")
            + (f"; model `{refit.model_uri}`" if refit.model_uri else "")
            + ".",
        ]
    if command:
        lines += ["", "**Reproduce the best trial**", "", f"```\n{command}\n```"]
    return fit_to_tag("\n".join(lines))
