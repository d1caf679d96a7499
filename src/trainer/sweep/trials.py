"""Which trials count toward a study's budget.

Trials are numbered densely by the storage, so a trial's number is a ticket: a trial whose
number comes after ``n_trials`` counted ones is surplus (two workers asked at the same moment)
and is closed at once without training. A trial a dead worker left behind is failed by the
heartbeat and re-queued; only its retry counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from optuna.trial import FrozenTrial, TrialState

SURPLUS_ATTR = "sweep_surplus"


def counted_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that count toward ``n_trials``: all but surplus ones and failures that were retried."""
    trials = list(trials)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return [
        t
        for t in trials
        if not t.user_attrs.get(SURPLUS_ATTR) and not (t.state == TrialState.FAIL and t.number in retried)
    ]


def state_counts(trials: Iterable[FrozenTrial]) -> Counter[str]:
    """Counted trials by state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    counts: Counter[str] = Counter({s.name: 0 for s in TrialState})
    counts.update(t.state.name for t in counted_trials(trials))
    return counts


def is_surplus(trials: Iterable[FrozenTrial], number: int, *, n_trials: int) -> bool:
    """Whether trial ``number`` comes after ``n_trials`` counted trials with smaller numbers."""
    earlier = [t for t in counted_trials(trials) if t.number < number]
    return len(earlier) >= n_trials
