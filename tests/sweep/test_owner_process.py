"""A process joining a study stops waiting for the parent run's id when the process that claimed
it is provably gone, and keeps waiting in every case of doubt."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna

from trainer.sweep.owner_process import is_gone, this_process
from trainer.sweep.parent_run import PARENT_ATTR, PARENT_KEY_ATTR, PARENT_OWNER_ATTR, wait_for_parent


def dead_process() -> dict[str, object]:
    """The claim of a process of this host that has exited (and been reaped)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from trainer.sweep.owner_process import this_process; "
            "print(json.dumps(this_process()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_claim_is_gone_only_when_its_process_of_this_host_and_namespace_has_exited() -> None:
    gone = dead_process()
    assert gone["pid"] != os.getpid()
    assert is_gone(gone) is True
    assert is_gone(this_process()) is False  # alive
    assert is_gone({**gone, "host": "another-host"}) is False  # cannot be checked from here
    assert is_gone({**gone, "pid_namespace": -1}) is False  # another container's PIDs
    assert is_gone(None) is False and is_gone({"pid": "12"}) is False  # a study from before, or garbled


def study_with(**attrs: object) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    return study


def test_the_wait_ends_at_once_when_the_run_is_recorded_or_its_owner_is_gone() -> None:
    assert wait_for_parent(study_with(**{PARENT_ATTR: "abc"}), timeout=30) == "recorded"
    killed_owner = study_with(**{PARENT_KEY_ATTR: "k", PARENT_OWNER_ATTR: dead_process()})
    assert wait_for_parent(killed_owner, timeout=30) == "owner gone"


def test_a_live_owner_or_an_unknown_one_is_waited_for_until_the_timeout() -> None:
    live = study_with(**{PARENT_KEY_ATTR: "k", PARENT_OWNER_ATTR: this_process()})
    assert wait_for_parent(live, timeout=0.2, poll=0.05) == "timed out"
    unknown = study_with(**{PARENT_KEY_ATTR: "k"})  # made before owners were recorded
    assert wait_for_parent(unknown, timeout=0.2, poll=0.05) == "timed out"
    elsewhere = study_with(**{PARENT_KEY_ATTR: "k", PARENT_OWNER_ATTR: {**dead_process(), "host": "other"}})
    assert wait_for_parent(elsewhere, timeout=0.2, poll=0.05) == "timed out"
