"""The study's parent run: one tracked run per study, through the same ``Logger`` as trials.

It is scoped by :func:`trainer.tracked_run.tracked_run` like every run: FINISHED when the study
(and the refit of its winner, which nests under it) ends, KILLED on Ctrl-C, FAILED with an
``error`` tag on an error. Its folder is ``runs/sweeps/<study>``. Its id lives in the study's
user attributes, so workers in other processes or machines nest their trials under it, and
re-running the same sweep reopens it instead of making another.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, open_dict

from trainer.build import build_logger
from trainer.redact import redact
from trainer.reporting.run_description import DESCRIPTION_TAG
from trainer.sweep.best_refit import Refit
from trainer.sweep.dashboard_note import save_study_note
from trainer.sweep.owner_process import is_gone, this_process
from trainer.sweep.parent_description import sweep_description
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace
from trainer.tracked_run import RunFolder, TrackedRun, tracked_run
from trainer.tracking.base import Logger

PARENT_ATTR = "parent_run_id"
#: Set before the parent run is opened: a rerun after a kill between the run's creation and
#: PARENT_ATTR finds that run by this key instead of opening a second parent.
PARENT_KEY_ATTR = "parent_run_key"
#: The process that set PARENT_KEY_ATTR (owner_process): a rerun need not wait for a dead one.
PARENT_OWNER_ATTR = "parent_run_owner"


def _flat_space(space: SearchSpace) -> dict[str, str]:
    out = {}
    for param in space.params:
        entry = param.to_dict()
        entry.pop("type")
        out[f"space.{param.key}"] = f"{param.kind} {json.dumps(entry, separators=(',', ':'))}"[:500]
    return out


def study_folder(runs_dir: str | Path, study_name: str) -> Path:
    """The parent run's folder: ``<runs_dir>/sweeps/<study>`` (no ``=`` or ``/`` in the name)."""
    return Path(str(runs_dir)) / "sweeps" / study_name.replace("=", "-").replace("/", "_")


@contextmanager
def parent_run(
    cfg: DictConfig,
    study: optuna.Study,
    *,
    settings: SweepSettings,
    space: SearchSpace,
    data: str | None = None,
) -> Iterator[TrackedRun]:
    """Start (or reopen) the study's parent run, record its settings once, and close it with
    the block's outcome.

    Args:
        cfg: the composed train config of the sweep (its ``logger`` and ``paths`` are used).
        study: the study; its ``parent_run_id`` user attribute is set when a run is created.
        settings: the sweep settings (params of the parent run).
        space: the search space (params ``space.<key>``).
        data: the data's name (its ``data=`` choice), for the run's name.

    Yields:
        The tracked run; record the study's outcome on its logger (:func:`record_outcome`).
    """
    path = study_folder(cfg.paths.runs_dir, settings.study_name)
    folder = RunFolder.open(chosen=path, runs_dir=path.parent, run_name=settings.study_name)
    cfg = cfg.copy()
    with open_dict(cfg):  # loggers that write into the run folder (csv) write into the study's
        cfg.paths.run_dir = str(folder.path)
    existing = study.user_attrs.get(PARENT_ATTR)
    key = study.user_attrs.get(PARENT_KEY_ATTR)
    if not existing and not key:
        key = uuid.uuid4().hex
        study.set_user_attr(PARENT_OWNER_ATTR, this_process())
        study.set_user_attr(PARENT_KEY_ATTR, key)
    logger = build_logger(cfg)
    # The MLflow run list shows names: say what was searched, and on what.
    named_for_data = not data or settings.study_name.endswith(f"-{data}")  # the default name
    name = f"sweep {settings.study_name}" + ("" if named_for_data else f" on {data}")
    with tracked_run(
        logger, folder=folder, run_name=name, resume_run_id=existing or None, run_key=key
    ) as run:
        if not existing:
            # Set even without a tracked run, so that processes waiting for it (wait_for_parent) go on.
            study.set_user_attr(PARENT_ATTR, logger.run_id or "")
            _record_settings(logger, settings=settings, space=space)
            run_id = logger.run_id
            save_study_note(study, run_id=run_id, address=logger.run_address(run_id) if run_id else None)
        # Every process that opens the parent says what it is: the one that made it may have been
        # killed before its records left (tags may be set again; params may not change).
        _record_role(logger, settings)
        yield run


def _record_settings(logger: Logger, *, settings: SweepSettings, space: SearchSpace) -> None:
    params: dict[str, Any] = {
        f"sweep.{k}": v if not isinstance(v, dict | list | tuple) else json.dumps(v)
        for k, v in settings.to_dict().items()
        if k != "storage"
    }
    params["sweep.storage"] = redact(settings.storage)
    params.update(_flat_space(space))
    logger.log_hyperparams(params)


def _record_role(logger: Logger, settings: SweepSettings) -> None:
    logger.set_tags(
        {
            "sweep.study": settings.study_name,
            "sweep.role": "parent",
            "sweep.storage": redact(settings.storage),
        }
    )


def wait_for_parent(study: optuna.Study, *, timeout: float = 60.0, poll: float = 0.5) -> str:
    """Wait until the process that created ``study`` has recorded its parent run (or that it has
    none), so that processes started together share one parent run.

    Returns:
        Why the wait ended: ``"recorded"`` (the id is there), ``"has trials"`` (the study is past
        that point, or predates the attribute), ``"owner gone"`` (the process that set the run's
        key no longer exists: it was killed, and this rerun takes its run over by the key), or
        ``"timed out"``.
    """
    deadline = time.monotonic() + timeout
    while True:
        attrs = study.user_attrs
        if PARENT_ATTR in attrs:
            return "recorded"
        if study.trials:
            return "has trials"
        if PARENT_KEY_ATTR in attrs and is_gone(attrs.get(PARENT_OWNER_ATTR)):
            return "owner gone"
        if time.monotonic() >= deadline:
            return "timed out"
        time.sleep(poll)


def record_outcome(
    logger: Logger,
    study: optuna.Study,
    *,
    metrics: list[str],
    counts: dict[str, int],
    files: list[Path],
    plots: list[Path],
    command: str | None,
    refit: Refit | None = None,
    top_k: int = 5,
    step: int | None = None,
) -> None:
    """Record the study's outcome on the parent run (its :func:`parent_run` block closes it).

    The best value(s) and counts are metrics; the best trial's number, params, run id and
    reproduce command are tags (params cannot change when a resumed study finds a better one).
    The refit's test metrics are metrics ``refit/test/...``; its run and model are tags.
    ``step`` is the number of trials the study had when ``counts`` were taken (default: now),
    so that a step never carries the counts of another moment.
    """
    values: dict[str, float] = {f"trials/{k.lower()}": float(v) for k, v in counts.items()}
    tags: dict[str, Any] = {}
    best = _best(study)
    if best is not None:
        for metric, value in zip(metrics, best.values or [], strict=False):
            values[f"best/{metric}"] = float(value)
        tags = {
            "best.trial": best.number,
            "best.run_id": best.user_attrs.get("run_id") or "",
            "best.params": json.dumps(best.params, default=str)[:5000],
            "best.overrides": " ".join(best.user_attrs.get("overrides", []))[:5000],
        }
        if command:
            tags["best.command"] = command[:5000]
    if refit is not None:
        tags.update(_refit_tags(refit))
        values.update({f"refit/{k}": v for k, v in refit.metrics.items() if k.startswith("test/")})
    if len(metrics) > 1:
        tags["pareto.trials"] = ",".join(str(t.number) for t in study.best_trials)
    step = len(study.trials) if step is None else step
    logger.log_metrics(_not_yet_recorded(study, values, step=step), step=step)
    tags[DESCRIPTION_TAG] = sweep_description(
        study, metrics=metrics, top_k=top_k, command=command, refit=refit, address=logger.run_address
    )
    logger.set_tags(tags)
    for path in files:
        logger.log_artifact(path, artifact_path="summary")
    for path in plots:
        logger.log_artifact(path, artifact_path="plots")


#: Study attribute: every (step, value) recorded on the parent run, per summary metric.
OUTCOME_ATTR = "parent_outcome"


def _not_yet_recorded(study: optuna.Study, values: dict[str, float], *, step: int) -> dict[str, float]:
    """The summary metrics the parent run does not already hold at ``step`` with the same value.

    Every process that works on a study (each machine, each rerun) records its outcome when it
    ends; those that end together would log each metric once apiece at the same step. The study
    remembers every pair recorded (not only the last: processes end in any order, and one that
    ends later may have counted earlier), so each (step, value) reaches the parent run once.
    """
    attr = study.user_attrs.get(OUTCOME_ATTR)
    recorded = {k: _pairs(v) for k, v in attr.items()} if isinstance(attr, dict) else {}
    fresh = {k: v for k, v in values.items() if [step, v] not in recorded.get(k, [])}
    if fresh:
        for key, value in fresh.items():
            recorded[key] = [*recorded.get(key, []), [step, value]]
        study.set_user_attr(OUTCOME_ATTR, recorded)
    return fresh


def _pairs(entry: Any) -> list[list[float]]:
    """The recorded pairs of one metric; a study recorded before kept one ``[step, value]``."""
    if isinstance(entry, list) and len(entry) == 2 and not isinstance(entry[0], list):
        return [entry]
    return [pair for pair in entry if isinstance(pair, list)] if isinstance(entry, list) else []


def _refit_tags(refit: Refit) -> dict[str, Any]:
    if refit.error:
        return {"best.refit_error": refit.error[:5000]}
    return {
        "best.refit_run_id": refit.run_id or "",
        "best.refit_reproduced": str(refit.reproduced).lower(),
        "best.model_uri": refit.model_uri or "",
    }


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None
    if len(study.directions) > 1:
        return min(study.best_trials, key=lambda t: t.number)
    return study.best_trial
