"""Every reach into Optuna's private internals, in one place.

Optuna has no public way to read one trial of a study by its number without copying them all,
to fail a RUNNING trial that another process abandoned, or to ask whether a storage runs
heartbeats and fail the trials whose heartbeat went silent. These helpers do it through
``study._storage``, ``study._study_id``, ``FrozenTrial._trial_id`` and
``optuna.storages._heartbeat``; nothing else in the project touches a private name of Optuna.
``tests/sweep/test_optuna_private.py`` checks each one against the installed Optuna, so an
upgrade that moves one fails there, naming the version, instead of deep inside a sweep.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

#: What this module relies on: (owner, attribute) pairs checked by :func:`missing_internals`.
STUDY_ATTRS = ("_storage", "_study_id")
TRIAL_ATTRS = ("_trial_id",)
STORAGE_METHODS = (
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "set_trial_user_attr",
    "set_trial_state_values",
)
HEARTBEAT_FUNCTIONS = ("is_heartbeat_enabled", "fail_stale_trials")


def missing_internals() -> list[str]:
    """The private names this module needs that the installed Optuna lacks ([] when all exist)."""
    from optuna.storages import _heartbeat

    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    trial = optuna.trial.create_trial(state=TrialState.COMPLETE, value=0.0)
    study.add_trial(trial)
    missing = [f"optuna.Study.{a}" for a in STUDY_ATTRS if not hasattr(study, a)]
    missing += [f"optuna.trial.FrozenTrial.{a}" for a in TRIAL_ATTRS if not hasattr(study.trials[0], a)]
    missing += [f"optuna.storages.BaseStorage.{m}" for m in STORAGE_METHODS if not hasattr(BaseStorage, m)]
    missing += [f"optuna.storages._heartbeat.{f}" for f in HEARTBEAT_FUNCTIONS if not hasattr(_heartbeat, f)]
    return missing


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage object behind ``study`` (``study._storage``)."""
    return study._storage


def trial_by_number(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` of ``study``, read alone (``study.trials`` copies every trial)."""
    storage = storage_of(study)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    return storage.get_trial(trial_id)


def set_trial_user_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Set a user attribute of a trial that another process is running (no ``optuna.Trial`` here)."""
    storage_of(study).set_trial_user_attr(trial._trial_id, key, value)


def fail_trial(study: optuna.Study, trial: FrozenTrial, *, reason: str) -> FrozenTrial | None:
    """Mark a RUNNING trial that another process abandoned as FAIL, with ``fail_reason``.

    Returns:
        The failed trial as stored now, or None when another process finished or failed it first.
    """
    storage = storage_of(study)
    try:
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            return None
    except optuna.exceptions.UpdateFinishedTrialError:
        return None  # another worker got there first
    return storage.get_trial(trial._trial_id)


def heartbeat_enabled(study: optuna.Study) -> bool:
    """Whether the study's storage runs heartbeats (an RDB storage with ``heartbeat_interval``)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage_of(study))


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the RUNNING trials whose heartbeat is older than the grace period, running the
    storage's ``heartbeat_stale_trial_callback`` on each (no-op without heartbeats)."""
    from optuna.storages._heartbeat import fail_stale_trials as fail_stale

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fail_stale(study)
