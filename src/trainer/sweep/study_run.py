"""One study from start to end: open it, run its trials under its parent run, then report.

The trials run in this process (:class:`~trainer.sweep.study_loop.TrialLoop`) or in
``sweep.n_jobs`` worker processes that share the study's storage. When they are done the final
table is printed, the summary files and plots go to the parent run, and (by default) the best
trial is trained once more with the full record as a child of the parent (``best_refit.py``).
A Ctrl-C or an error still prints the table and records what the study holds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.redact import redact
from trainer.sweep.best_refit import Refit, is_refit_here, needs_refit, recorded_refit, refit_best
from trainer.sweep.parent_run import PARENT_ATTR, parent_run, record_outcome, wait_for_parent
from trainer.sweep.plots import write_plots
from trainer.sweep.report import LiveReporter, final_table, ranked_trials, reproduce_command, write_summary
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace
from trainer.sweep.storage import is_memory
from trainer.sweep.study_factory import open_study, quiet_optuna
from trainer.sweep.study_identity import BASE_ATTR, require_same_question
from trainer.sweep.study_loop import TrialLoop
from trainer.sweep.study_workers import run_workers
from trainer.sweep.trial_budget import check_failures, effective_n_trials, state_counts
from trainer.sweep.trial_objective import TrialObjective
from trainer.tracked_run import TrackedRun


@dataclass
class StudyResult:
    """What one study (one stage of a sweep) gives back.

    Attributes:
        study_name: the study's name in its storage.
        counts: counted trials by state (COMPLETE, PRUNED, FAIL, ...).
        best_values: the best trial's values (first Pareto trial for several metrics), or None.
        best_params: the best trial's parameters.
        best_overrides: the best trial's sampled overrides.
        command: the ``trainer train ...`` that reproduces the best trial.
        parent_run_id: the study's parent run in the tracker, if any.
        table: the final table as printed.
        space: the search space of this stage.
        refit: the best trial trained again with the full record, when this process did it.
    """

    study_name: str
    counts: dict[str, int]
    best_values: list[float] | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_overrides: list[str] = field(default_factory=list)
    command: str | None = None
    parent_run_id: str | None = None
    table: str = ""
    space: SearchSpace | None = None
    refit: Refit | None = None


def run_study(
    *,
    settings: SweepSettings,
    space: SearchSpace,
    base_overrides: Sequence[str],
    study_attrs: dict[str, Any] | None = None,
    stream: Any = None,
) -> StudyResult:
    """Run one study to its budget, in this process or in ``settings.n_jobs`` worker processes.

    Args:
        settings: the study's settings.
        space: its search space (already checked).
        base_overrides: overrides every trial gets.
        study_attrs: extra user attributes of the study (e.g. ``refined_from``).
        stream: where the live lines and the table go (stdout by default).

    Returns:
        The study's counts, best trial and reproduce command.

    Raises:
        ConfigError: ``sweep.n_jobs > 1`` on a storage that processes cannot share.
        UserError: the study holds ``max_failures`` failed trials.
    """
    if settings.n_jobs > 1 and is_memory(settings.storage):
        raise ConfigError(
            "sweep.n_jobs > 1 needs a shared storage: set sweep.storage=journal:<file> or an RDB URL."
        )
    out = stream or sys.stdout
    with quiet_optuna():
        study, created = open_study(settings, space)
        print(_opening_line(study, settings, created=created), file=out, flush=True)
        if not created:
            require_same_question(study, base_overrides, storage=redact(settings.storage))
            wait_for_parent(study)
        study.set_user_attr("space", space.to_dict())
        study.set_user_attr(BASE_ATTR, list(base_overrides))
        for key, value in (study_attrs or {}).items():
            study.set_user_attr(key, value)
        composed = compose_config(list(base_overrides))
        with parent_run(
            composed.cfg, study, settings=settings, space=space, data=composed.choices.get("data")
        ) as parent:
            finished = False
            try:
                _run_trials(study, settings, space, base_overrides, parent, out)
                finished = True
            finally:  # a Ctrl-C or an error still shows and records what the study holds
                result = _finish(study, settings, space, base_overrides, parent, out, refit=finished)
    print(*parent.where_lines(), sep="\n", file=out, flush=True)
    return result


def _opening_line(study: optuna.Study, settings: SweepSettings, *, created: bool) -> str:
    """Whether the sweep starts a study or continues one, and with what: a mistyped storage or
    name would otherwise start again from trial 0 without a word."""
    where = redact(settings.storage)
    if created:
        return f"New study {settings.study_name} in {where}."
    counts = state_counts(study.get_trials(deepcopy=False))
    held = sum(counts.values())
    detail = ", ".join(f"{n} {state.lower()}" for state, n in counts.items() if n)
    return (
        f"Continuing study {settings.study_name} in {where}: {held} trials so far"
        + (f" ({detail})" if detail else "")
        + f", up to {settings.n_trials} in all."
    )


def _parent_id(study: optuna.Study, parent: TrackedRun) -> str | None:
    return parent.run_id or study.user_attrs.get(PARENT_ATTR) or None


def _run_trials(
    study: optuna.Study,
    settings: SweepSettings,
    space: SearchSpace,
    base_overrides: Sequence[str],
    parent: TrackedRun,
    out: Any,
) -> None:
    deadline = time.monotonic() + settings.timeout if settings.timeout else None
    if settings.n_jobs > 1:
        run_workers(settings, space, base_overrides, _parent_id(study, parent))
        check_failures(study.get_trials(deepcopy=False), settings.max_failures)
        return
    reporter = LiveReporter(
        settings.study_name,
        n_trials=effective_n_trials(settings, space),
        metrics=settings.metrics,
        stream=out,
    )
    objective = TrialObjective(
        study,
        settings=settings,
        space=space,
        base_overrides=base_overrides,
        parent_run_id=_parent_id(study, parent),
    )
    TrialLoop(objective, deadline=deadline, reporter=reporter).run()


def _finish(
    study: optuna.Study,
    settings: SweepSettings,
    space: SearchSpace,
    base_overrides: Sequence[str],
    parent: TrackedRun,
    out: Any,
    *,
    refit: bool,
) -> StudyResult:
    """Print the table, refit the winner when the study finished (``refit``), record the outcome."""
    trials = study.get_trials(deepcopy=False)  # one snapshot: the counts and their step agree
    counts = dict(state_counts(trials))
    table = final_table(study, metrics=settings.metrics, top_k=settings.top_k, base_overrides=base_overrides)
    print(table, file=out, flush=True)
    ranked = ranked_trials(study)
    best = ranked[0] if ranked else None
    command = reproduce_command(base_overrides, best) if best else None
    refitted = None
    study_dir = parent.folder.path
    try:
        if refit and best is not None and _wants_refit(settings, study, best):
            print(
                f"Training the best trial {best.number} again with the full record...", file=out, flush=True
            )
            refitted = refit_best(
                study,
                best,
                metric=settings.metrics[0],
                direction=settings.directions[0],
                study_name=settings.study_name,
                base_overrides=base_overrides,
                parent_run_id=_parent_id(study, parent),
            )
            print(*refitted.lines(settings.metrics[0]), sep="\n", file=out, flush=True)
        elif best is not None and (earlier := recorded_refit(study, best)):
            print(earlier, file=out, flush=True)
    finally:  # a Ctrl-C during the refit: the study itself is complete and kept
        files = write_summary(study, study_dir, metrics=settings.metrics)
        plots = write_plots(study, study_dir / "plots", metrics=settings.metrics) if settings.plots else []
        record_outcome(
            parent.logger,
            study,
            metrics=list(settings.metrics),
            counts=counts,
            files=files,
            plots=plots,
            command=command,
            refit=refitted,
            top_k=settings.top_k,
            step=len(trials),
        )
    return StudyResult(
        study_name=settings.study_name,
        counts=counts,
        best_values=list(best.values) if best and best.values else None,
        best_params=dict(best.params) if best else {},
        best_overrides=list(best.user_attrs.get("overrides", [])) if best else [],
        command=command,
        parent_run_id=parent.run_id,
        table=table,
        space=space,
        refit=refitted,
    )


def _wants_refit(settings: SweepSettings, study: optuna.Study, best: FrozenTrial) -> bool:
    """Refit when asked, for one objective, when trials did not already record everything, when
    no worker of the study has refit this best trial yet, and when it falls to this process."""
    return (
        settings.refit_best
        and not settings.multi_objective
        and settings.light_trials
        and needs_refit(study, best)
        and is_refit_here(best)
    )
