"""Each summary metric's (step, value) reaches a study's parent run once, whatever order the
processes that worked on the study end in."""

from __future__ import annotations

import optuna

from trainer.sweep.parent_run import OUTCOME_ATTR, _not_yet_recorded


def fresh_study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study()


def test_a_pair_recorded_by_any_earlier_process_is_not_recorded_again() -> None:
    study = fresh_study()
    # Three workers end: the first saw 9 complete of 10; the second had counted earlier (7 of 9);
    # the third saw what the first saw. Before, only the last pair was kept, and the third
    # recorded (10, 9.0) a second time.
    assert _not_yet_recorded(study, {"trials/complete": 9.0}, step=10) == {"trials/complete": 9.0}
    assert _not_yet_recorded(study, {"trials/complete": 7.0}, step=9) == {"trials/complete": 7.0}
    assert _not_yet_recorded(study, {"trials/complete": 9.0, "best/val/loss": 0.5}, step=10) == {
        "best/val/loss": 0.5
    }
    assert study.user_attrs[OUTCOME_ATTR] == {
        "trials/complete": [[10, 9.0], [9, 7.0]],
        "best/val/loss": [[10, 0.5]],
    }
    # A rerun that finds a better value at the same step records it.
    assert _not_yet_recorded(study, {"best/val/loss": 0.4}, step=10) == {"best/val/loss": 0.4}


def test_a_study_recorded_before_keeps_its_single_pair() -> None:
    study = fresh_study()
    study.set_user_attr(OUTCOME_ATTR, {"trials/complete": [10, 9.0]})  # the earlier format
    assert _not_yet_recorded(study, {"trials/complete": 9.0}, step=10) == {}
    assert _not_yet_recorded(study, {"trials/complete": 10.0}, step=11) == {"trials/complete": 10.0}
    assert study.user_attrs[OUTCOME_ATTR] == {"trials/complete": [[10, 9.0], [11, 10.0]]}
