"""The study's progress line."""

from __future__ import annotations

import pytest

from trainer.fraud import progress
from trainer.fraud.progress import StudyProgress, clock


def test_clock_reads_as_a_person_would_say_it() -> None:
    assert [clock(s) for s in (0.4, 42, 185, 3725)] == ["0s", "42s", "3m05s", "1h02m"]


def test_each_approach_says_its_place_the_time_so_far_and_an_estimate_once_work_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    line = StudyProgress({"plain": 10.0, "smote": 20.0, "hgb": 10.0})
    assert line.starting("plain") == "Approach 1/3: plain (0s so far)"
    now[0] += 30  # plain's 10 units of work took 30 s: 3 s a unit, 30 units left
    assert line.starting("smote") == "Approach 2/3: smote (30s so far, about 1m30s left)"
    now[0] += 60
    assert line.starting("hgb") == "Approach 3/3: hgb (1m30s so far, about 30s left)"
