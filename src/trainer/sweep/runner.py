"""Run a study: create or resume it, run trials in this process or in N worker processes that
share its storage, then report and close the parent run.

Each trial composes ``train.yaml`` with the sweep's overrides plus its sampled ones and calls
the same ``train()`` that ``trainer train`` calls, with a pruning callback and (by default) a
light record; the winner is then refit with the full record (``refit.py``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from omegaconf import open_dict
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.interrupts import interrupts_received
from trainer.redact import redact
from trainer.reporting import RunOutputs
from trainer.run_dir import unused_run_dir
from trainer.sweep.isolation import isolated_trial
from trainer.sweep.parent import PARENT_ATTR, close_parent, open_parent
from trainer.sweep.plots import write_plots
from trainer.sweep.pruners import build_pruner
from trainer.sweep.pruning import PruningCallback
from trainer.sweep.refit import Refit, is_refit_here, needs_refit, recorded_refit, refit_best
from trainer.sweep.report import LiveReporter, final_table, ranked_trials, reproduce_command, write_summary
from trainer.sweep.samplers import build_sampler, grid_size
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace
from trainer.sweep.storage import is_memory, open_storage
from trainer.sweep.trials import (
    INTERRUPTED_ATTR,
    SURPLUS_ATTR,
    WORKER_ATTR,
    check_failures,
    counted_trials,
    is_surplus,
    recover_abandoned,
    requeue,
    state_counts,
    waits_on,
    worker_identity,
)

log = logging.getLogger(__name__)


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


@contextmanager
def quiet_optuna() -> Any:
    """Silence Optuna's log lines and experimental warnings (we print our own lines) and put
    the level back after, so that the process is left as it was."""
    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(old)


def create_study(settings: SweepSettings, space: SearchSpace, *, worker: int = 0) -> optuna.Study:
    """Create the study or load it by name from its storage.

    Raises:
        ConfigError: the stored study optimizes other directions than the settings ask for.
    """
    return open_study(settings, space, worker=worker)[0]


def open_study(settings: SweepSettings, space: SearchSpace, *, worker: int = 0) -> tuple[optuna.Study, bool]:
    """Create the study, or load it when it exists, and say which happened.

    Of several ``trainer sweep`` processes started together on one storage (several machines),
    exactly one creates the study: that one opens the parent run, the others wait for its id.

    Returns:
        The study and whether this call created it.

    Raises:
        ConfigError: the stored study optimizes other directions than the settings ask for.
    """
    storage = open_storage(
        settings.storage, heartbeat_interval=settings.heartbeat_interval, grace_period=settings.grace_period
    )
    seed = None if settings.seed is None else settings.seed + worker
    sampler = build_sampler(
        settings.sampler,
        space=space,
        seed=seed,
        options=settings.sampler_options,
        grid_points=settings.grid_points,
        multi_objective=settings.multi_objective,
    )
    pruner = build_pruner(
        settings.pruner, options=settings.pruner_options, multi_objective=settings.multi_objective
    )
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=settings.study_name,
            directions=[optuna.study.StudyDirection[d.upper()] for d in settings.directions],
            sampler=sampler,
            pruner=pruner,
        )
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=settings.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        created = False
        if seed is not None:
            # A seeded sampler would repeat the samples of the process that started the study
            # (a resumed sweep, another machine, a local worker): one that joins gets its own seed.
            study.sampler = build_sampler(
                settings.sampler,
                space=space,
                seed=seed + len(study.trials) + os.getpid(),
                options=settings.sampler_options,
                grid_points=settings.grid_points,
                multi_objective=settings.multi_objective,
            )
    stored = [d.name.lower() for d in study.directions]
    if stored != list(settings.directions):
        raise ConfigError(
            f"Study {settings.study_name!r} in {redact(settings.storage)} optimizes {stored}, "
            f"not {list(settings.directions)}; "
            "pick another sweep.study_name or the same metrics and directions."
        )
    return study, created


def wait_for_parent(study: optuna.Study, *, timeout: float = 60.0) -> None:
    """Wait until the process that created ``study`` has recorded its parent run (or that it has
    none), so that processes started together share one parent run. A study with trials has
    passed that point (or predates the attribute): no wait."""
    deadline = time.monotonic() + timeout
    while PARENT_ATTR not in study.user_attrs and not study.trials and time.monotonic() < deadline:
        time.sleep(0.5)


def effective_n_trials(settings: SweepSettings, space: SearchSpace) -> int:
    """``n_trials``, capped at the grid's size for the grid sampler."""
    if settings.sampler == "grid":
        return min(settings.n_trials, grid_size(space, points=settings.grid_points))
    return settings.n_trials


class TrialRunner:
    """Runs trials of one study in this process until the study holds ``n_trials``.

    Args:
        study: the study (created by :func:`create_study`).
        settings: the sweep settings.
        space: the search space.
        base_overrides: overrides applied to every trial (the user's, without ``sweep.*``).
        parent_run_id: the tracker run that trials nest under.
        deadline: ``time.monotonic()`` after which no trial starts, or None.
        reporter: prints the live line.
    """

    def __init__(
        self,
        study: optuna.Study,
        *,
        settings: SweepSettings,
        space: SearchSpace,
        base_overrides: Sequence[str],
        parent_run_id: str | None,
        deadline: float | None,
        reporter: LiveReporter,
    ) -> None:
        self.study = study
        self.settings = settings
        self.space = space
        self.base_overrides = list(base_overrides)
        self.parent_run_id = parent_run_id
        self.deadline = deadline
        self.reporter = reporter
        self.n_trials = effective_n_trials(settings, space)

    def run(self) -> None:
        """Run trials until the budget, the deadline or ``max_failures`` stops it.

        Trials left RUNNING by a dead worker are failed and retried first; when the budget is
        taken but trials still run elsewhere, it waits for them (one may die and need its retry
        run here).

        Raises:
            UserError: the study holds ``max_failures`` failed trials (all workers and runs of
                the sweep together); the message gives the last reason.
        """
        heartbeat = is_heartbeat_enabled(self.study._storage)
        with quiet_optuna():
            while True:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    break
                recover_abandoned(self.study)
                trials = self.study.get_trials(deepcopy=False)
                check_failures(trials, self.settings.max_failures)
                counted = counted_trials(trials)
                queued = any(t.state == TrialState.WAITING for t in counted)
                if len(counted) >= self.n_trials and not queued:
                    running = [t for t in counted if t.state == TrialState.RUNNING]
                    if any(waits_on(t, heartbeat=heartbeat) for t in running):
                        time.sleep(self.poll_seconds)
                        continue
                    break
                numbers: list[int] = []
                seen = interrupts_received()
                try:
                    self.study.optimize(
                        functools.partial(self.objective, numbers=numbers),
                        n_trials=1,
                        catch=(Exception,),
                        gc_after_trial=True,
                    )
                except KeyboardInterrupt:
                    self._requeue_interrupted(numbers)
                    raise
                if interrupts_received() != seen:
                    raise KeyboardInterrupt  # swallowed by a library; the trial itself ended
                if not numbers:
                    break  # the sampler stopped the study (a finished grid)
                frozen = self._trial(numbers[0])
                if frozen.user_attrs.get(SURPLUS_ATTR):
                    break
                self.reporter.line(self.study, frozen)

    @property
    def poll_seconds(self) -> float:
        """How often to look again while other workers' trials run."""
        return float(min(2.0, max(0.2, self.settings.heartbeat_interval / 2)))

    def _trial(self, number: int) -> FrozenTrial:
        storage = self.study._storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number)
        return storage.get_trial(trial_id)

    def _requeue_interrupted(self, numbers: list[int]) -> None:
        """Ctrl-C: Optuna has recorded the trial as FAIL; queue it again so that re-running the
        sweep runs it (an interruption is not a failure of the trial and does not count as one).

        Never raises: the Ctrl-C that brought us here is what the caller must see.
        """
        if not numbers:
            return
        try:
            frozen = self._trial(numbers[0])
            if frozen.state == TrialState.FAIL and frozen.user_attrs.get(INTERRUPTED_ATTR):
                requeue(self.study, frozen, reason="interrupted")
        except Exception as exc:  # a storage that went away with the interruption
            log.warning("Trial %d could not be queued again (%s); a rerun samples anew.", numbers[0], exc)

    def objective(self, trial: optuna.Trial, *, numbers: list[int]) -> float | list[float]:
        """Sample, compose, train, and return the monitored metric(s)."""
        numbers.append(trial.number)
        seen = interrupts_received()
        try:
            return self._run_trial(trial)
        except KeyboardInterrupt:  # at any point of the trial: queued again, not a failure of it
            _mark_interrupted(trial)
            raise
        except Exception as exc:
            if interrupts_received() == seen:
                raise
            # A Ctrl-C that a library turned into another error on its way out: still a Ctrl-C.
            # Optuna would take the error for a failure of the trial and run the next one.
            _mark_interrupted(trial)
            raise KeyboardInterrupt(f"interrupted ({type(exc).__name__}: {exc})") from exc

    def _run_trial(self, trial: optuna.Trial) -> float | list[float]:
        from trainer.train import train

        if is_surplus(self.study.get_trials(deepcopy=False), trial.number, n_trials=self.n_trials):
            trial.set_user_attr(SURPLUS_ATTR, True)  # another worker took the last ticket
            raise optuna.TrialPruned("surplus")
        trial.set_user_attr(WORKER_ATTR, worker_identity())
        values = self.space.sample(trial)
        overrides = self.space.overrides(values)
        trial.set_user_attr("overrides", overrides)
        name = f"{self.settings.study_name}_t{trial.number:03d}".replace("=", "-")
        pruning = PruningCallback(
            trial,
            monitor=self.settings.metrics[0],
            study_name=self.settings.study_name,
            prune=not self.settings.multi_objective and self.settings.pruner != "none",
        )
        try:
            composed = compose_config([*self.base_overrides, *overrides, f"run_name={name}"])
            # The folder is named before training, so that a worker that finds this trial abandoned
            # can close its tracked run from the folder's journal (``trials.close_abandoned_run``).
            run_dir = unused_run_dir(composed.cfg.paths.runs_dir, name)
            with open_dict(composed.cfg):
                composed.cfg.paths.run_dir = str(run_dir)
            trial.set_user_attr("run_dir", str(run_dir))
            with isolated_trial():
                result = train(
                    composed,
                    callbacks=[pruning],
                    parent_run_id=self.parent_run_id,
                    outputs=RunOutputs.named(self.settings.trial_record),
                )
        except optuna.TrialPruned:
            trial.set_user_attr("pruned_epoch", pruning.pruned_epoch)
            trial.set_user_attr("epochs", pruning.last_epoch)
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}"[:2000])
            raise
        trial.set_user_attr("run_id", result.tracking_run_id)
        trial.set_user_attr("run_dir", str(result.run_dir))
        trial.set_user_attr("epochs", len(result.history))
        out = []
        for metric in self.settings.metrics:
            value = result.metrics.get(metric)
            if value is None or not math.isfinite(value):
                reason = f"{metric}={value} is not a finite number"
                trial.set_user_attr("fail_reason", reason)
                raise ValueError(reason)
            out.append(float(value))
        return out[0] if len(out) == 1 else out


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
    """
    with quiet_optuna():
        return _run_study(
            settings=settings,
            space=space,
            base_overrides=base_overrides,
            study_attrs=study_attrs,
            stream=stream,
        )


def _run_study(
    *,
    settings: SweepSettings,
    space: SearchSpace,
    base_overrides: Sequence[str],
    study_attrs: dict[str, Any] | None,
    stream: Any,
) -> StudyResult:
    if settings.n_jobs > 1 and is_memory(settings.storage):
        raise ConfigError(
            "sweep.n_jobs > 1 needs a shared storage: set sweep.storage=journal:<file> or an RDB URL."
        )
    study, created = open_study(settings, space)
    if not created:
        wait_for_parent(study)
    study.set_user_attr("space", space.to_dict())
    study.set_user_attr("base_overrides", list(base_overrides))
    for key, value in (study_attrs or {}).items():
        study.set_user_attr(key, value)
    composed = compose_config(list(base_overrides))
    runs_dir = Path(str(composed.cfg.paths.runs_dir))
    study_dir = runs_dir / "sweeps" / settings.study_name.replace("=", "-").replace("/", "_")
    parent = open_parent(composed.cfg, study, settings=settings, space=space, run_dir=study_dir)
    parent_id = parent.run_id or study.user_attrs.get(PARENT_ATTR)
    deadline = time.monotonic() + settings.timeout if settings.timeout else None
    status = "FAILED"
    try:
        if settings.n_jobs == 1:
            reporter = LiveReporter(
                settings.study_name,
                n_trials=effective_n_trials(settings, space),
                metrics=settings.metrics,
                stream=stream,
            )
            TrialRunner(
                study,
                settings=settings,
                space=space,
                base_overrides=base_overrides,
                parent_run_id=parent_id,
                deadline=deadline,
                reporter=reporter,
            ).run()
        else:
            from trainer.sweep.workers import run_workers

            run_workers(settings, space, base_overrides, parent_id)
            check_failures(study.get_trials(deepcopy=False), settings.max_failures)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        result = _finish(study, settings, space, base_overrides, parent, study_dir, status, stream)
    return result


def _finish(
    study: optuna.Study,
    settings: SweepSettings,
    space: SearchSpace,
    base_overrides: Sequence[str],
    parent: Any,
    study_dir: Path,
    status: str,
    stream: Any,
) -> StudyResult:
    import sys

    out = stream or sys.stdout
    counts = dict(state_counts(study.get_trials(deepcopy=False)))
    table = final_table(study, metrics=settings.metrics, top_k=settings.top_k, base_overrides=base_overrides)
    print(table, file=out, flush=True)
    ranked = ranked_trials(study)
    best = ranked[0] if ranked else None
    command = reproduce_command(base_overrides, best) if best else None
    refit = None
    try:
        if status == "FINISHED" and best is not None and _wants_refit(settings, study, best):
            print(
                f"Training the best trial {best.number} again with the full record...", file=out, flush=True
            )
            refit = refit_best(
                study,
                best,
                metric=settings.metrics[0],
                study_name=settings.study_name,
                base_overrides=base_overrides,
                parent_run_id=parent.run_id or study.user_attrs.get(PARENT_ATTR) or None,
            )
            print(*refit.lines(settings.metrics[0]), sep="\n", file=out, flush=True)
        elif best is not None and (earlier := recorded_refit(study, best)):
            print(earlier, file=out, flush=True)
    except BaseException:
        status = "KILLED"  # Ctrl-C during the refit: the study itself is complete and kept
        raise
    finally:
        files = write_summary(study, study_dir, metrics=settings.metrics)
        plots = write_plots(study, study_dir / "plots", metrics=settings.metrics) if settings.plots else []
        close_parent(
            parent,
            study,
            metrics=list(settings.metrics),
            counts=counts,
            files=files,
            plots=plots,
            command=command,
            status=status,
            refit=refit,
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
        refit=refit,
    )


def _wants_refit(settings: SweepSettings, study: optuna.Study, best: FrozenTrial) -> bool:
    """Refit when asked, for one objective, when trials did not already record everything, when
    no worker of the study has refit this best trial yet, and when it falls to this process."""
    return (
        settings.refit_best
        and not settings.multi_objective
        and settings.trial_record == "light"
        and needs_refit(study, best)
        and is_refit_here(best)
    )


def _mark_interrupted(trial: optuna.Trial) -> None:
    """Record on ``trial`` that Ctrl-C stopped it (it is queued again, not counted as failed).

    Never raises: a storage error here must not replace the interrupt, or Optuna would take it
    for an ordinary failure of the trial (counted against ``max_failures``) and run the next one.
    """
    with contextlib.suppress(Exception):
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        trial.set_user_attr("fail_reason", "interrupted (Ctrl-C); queued again")
