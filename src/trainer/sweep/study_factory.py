"""Create or load a study by name from its storage, with its sampler and pruner.

Of several ``trainer sweep`` processes started together on one storage (several machines, or the
workers of ``sweep.n_jobs``), exactly one creates the study; the others load it, each with a
sampler seeded apart so that they do not repeat each other's samples.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna

from trainer.errors import ConfigError
from trainer.redact import redact
from trainer.sweep.pruner_factory import build_pruner
from trainer.sweep.sampler_factory import build_sampler
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace
from trainer.sweep.step_rounding import rounding_steps
from trainer.sweep.storage import open_storage


@contextmanager
def quiet_optuna() -> Iterator[None]:
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

    Args:
        settings: the sweep settings (storage, name, directions, sampler, pruner, seed).
        space: the search space (the grid sampler enumerates it).
        worker: a local worker's number, added to the seed so that workers sample apart.

    Returns:
        The study and whether this call created it (the creator opens the parent run).

    Raises:
        ConfigError: the stored study optimizes other directions than the settings ask for.
    """
    storage = open_storage(
        settings.storage, heartbeat_interval=settings.heartbeat_interval, grace_period=settings.grace_period
    )
    seed = None if settings.seed is None else settings.seed + worker
    sampler = _sampler(settings, space, seed)
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
        # optuna-dashboard and Optuna's plots label values by these, not "Objective 0".
        with warnings.catch_warnings():  # ExperimentalWarning: the API is stable in use since 3.2
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(settings.metrics))
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=settings.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        created = False
        if seed is not None:
            # A seeded sampler would repeat the samples of the process that started the study
            # (a resumed sweep, another machine, a local worker): one that joins gets its own seed.
            study.sampler = _sampler(settings, space, seed + len(study.trials) + os.getpid())
    stored = [d.name.lower() for d in study.directions]
    if stored != list(settings.directions):
        raise ConfigError(
            f"Study {settings.study_name!r} in {redact(settings.storage)} optimizes {stored}, "
            f"not {list(settings.directions)}; "
            "pick another sweep.study_name or the same metrics and directions."
        )
    return study, created


def _sampler(settings: SweepSettings, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    return rounding_steps(
        build_sampler(
            settings.sampler,
            space=space,
            seed=seed,
            options=settings.sampler_options,
            grid_points=settings.grid_points,
            multi_objective=settings.multi_objective,
        )
    )
