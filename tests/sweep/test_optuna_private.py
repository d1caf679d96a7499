"""Every private name of Optuna the sweep relies on exists and behaves, on real storages.

When an Optuna upgrade moves one, these tests fail naming the installed version and the name,
so the fix is one place: ``src/trainer/sweep/optuna_private.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from trainer.sweep import optuna_private

VERSION = f"Optuna {optuna.__version__}"


@pytest.fixture(params=["memory", "sqlite"])
def study(request: pytest.FixtureRequest, tmp_path: Path) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = (
        optuna.storages.InMemoryStorage()
        if request.param == "memory"
        else optuna.storages.RDBStorage(f"sqlite:///{tmp_path}/optuna.db")
    )
    return optuna.create_study(storage=storage, study_name="private")


def test_every_private_name_exists() -> None:
    missing = optuna_private.missing_internals()
    assert not missing, f"{VERSION} lacks {missing}: update trainer/sweep/optuna_private.py"


def test_a_trial_is_read_alone_by_its_number(study: optuna.Study) -> None:
    for value in (3.0, 1.0):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, value)
    second = optuna_private.trial_by_number(study, 1)
    assert (second.number, second.value) == (1, 1.0), f"{VERSION}: trial_by_number read {second}"
    assert isinstance(optuna_private.storage_of(study), optuna.storages.BaseStorage), VERSION


def test_an_abandoned_trial_is_failed_once_with_its_reason(study: optuna.Study) -> None:
    study.ask()  # RUNNING, as a dead worker leaves it
    [running] = study.get_trials(states=(TrialState.RUNNING,))
    optuna_private.set_trial_user_attr(study, running, "worker", {"host": "elsewhere"})
    failed = optuna_private.fail_trial(study, running, reason="its worker process died")
    assert failed is not None, f"{VERSION}: fail_trial did not fail a RUNNING trial"
    assert failed.state == TrialState.FAIL, VERSION
    assert failed.user_attrs == {"worker": {"host": "elsewhere"}, "fail_reason": "its worker process died"}
    # A second process that finds it already failed leaves it alone.
    assert optuna_private.fail_trial(study, running, reason="again") is None, VERSION


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_heartbeats_are_seen_and_silent_trials_failed(tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    retried: list[int] = []
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{tmp_path}/heartbeat.db",
            heartbeat_interval=1,
            grace_period=1,
            heartbeat_stale_trial_callback=lambda study, trial: retried.append(trial.number),
        )
    study = optuna.create_study(storage=storage, study_name="heartbeat")
    plain = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    assert optuna_private.heartbeat_enabled(study), f"{VERSION}: heartbeats not seen on an RDB storage"
    assert not optuna_private.heartbeat_enabled(plain), VERSION
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)  # what Optuna's heartbeat thread does
    time.sleep(2.2)  # past the grace period
    optuna_private.fail_stale_trials(study)
    assert study.trials[0].state == TrialState.FAIL, f"{VERSION}: fail_stale_trials left a silent trial"
    assert retried == [0], f"{VERSION}: the storage's stale-trial callback did not run"
    optuna_private.fail_stale_trials(plain)  # no heartbeats: nothing to do, no error
