"""Hyperparameter sweeps: Optuna studies whose trials call the same ``train()`` as ``trainer train``.

Where things are (each file one concept):

The command
    ``command.py``          ``trainer sweep`` and ``trainer train -m`` (``--cfg`` prints and stops).
    ``multirun.py``         ``trainer train -m a=1,2`` overrides into a grid space; ``MULTIRUN_FLAGS``.
    ``config.py``           ``conf/sweep.yaml`` composed into settings, a search space, trial overrides.
    ``settings.py``         ``SweepSettings``: the ``sweep:`` section (its defaults: ``conf/sweep.yaml``).
    ``space.py``            search spaces: parse ``hparams_search`` params, sample, turn into overrides.
    ``checks.py``           every check before the first trial; every value range of the sweep.
    ``stages.py``           ``run_sweep``: the first study, then its refined stage (coarse to fine).
    ``refine_ranges.py``    ranges shrunk around a study's top trials for the refined stage.

The study
    ``study_run.py``        one study end to end: parent run, trials, table, refit, record.
    ``study_factory.py``    create or load a study with its sampler and pruner.
    ``sampler_factory.py``  Optuna samplers by name.
    ``pruner_factory.py``   Optuna pruners by name.
    ``study_loop.py``       the trial loop of one process, until the budget.
    ``study_workers.py``    ``sweep.n_jobs`` worker processes sharing one study.

The trial
    ``trial_objective.py``  sample, compose, train, record: what Optuna calls per trial.
    ``pruning_callback.py`` the Trainer callback that reports validations and prunes.
    ``trial_isolation.py``  a trial leaves the process as it found it (random states, handlers).
    ``trial_budget.py``     which trials count toward ``n_trials`` and ``max_failures``.
    ``trial_recovery.py``   trials whose worker died: failed, re-queued, their runs closed.

The storage
    ``storage.py``          Optuna storages from a URL (sqlite, journal, PostgreSQL, memory).
    ``optuna_private.py``   every reach into Optuna's private internals, checked by a test.

The record
    ``parent_run.py``       the study's parent run (a ``tracked_run``) and its outcome.
    ``report.py``           the live line, the final table, the summary files.
    ``plots.py``            the study's plots for the parent run.
    ``best_refit.py``       the best trial trained once more with the full record.

The names below are imported on first use, so that importing a light module of the package
(``trainer.sweep.multirun`` for the CLI) does not load Optuna.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Param": "trainer.sweep.space",
    "SearchSpace": "trainer.sweep.space",
    "StudyResult": "trainer.sweep.study_run",
    "SweepSettings": "trainer.sweep.settings",
    "multirun_command": "trainer.sweep.command",
    "parse_space": "trainer.sweep.space",
    "run_sweep": "trainer.sweep.stages",
    "sweep_command": "trainer.sweep.command",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
