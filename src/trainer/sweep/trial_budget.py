"""Which trials count toward a study's budget (``sweep.n_trials``, ``sweep.max_failures``).

Trials are numbered densely by the storage, so a trial's number is a ticket: a trial whose
number comes after ``n_trials`` counted ones is surplus (two workers asked at the same moment)
and is closed at once without training. A failed trial that was re-queued (``trial_recovery``)
no longer counts; only its retry does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from optuna.trial import FrozenTrial, TrialState

from trainer.errors import UserError
from trainer.sweep.sampler_factory import grid_size
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace

SURPLUS_ATTR = "sweep_surplus"
#: System attribute of a retry: the numbers of the failed trials it replaces.
RETRY_ATTR = "retry_history"


def effective_n_trials(settings: SweepSettings, space: SearchSpace) -> int:
    """``n_trials``, capped at the grid's size for the grid sampler."""
    if settings.sampler == "grid":
        return min(settings.n_trials, grid_size(space, points=settings.grid_points))
    return settings.n_trials


def counted_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that count toward ``n_trials``: all but surplus ones and failures that were retried."""
    trials = list(trials)
    retried = {n for t in trials for n in t.system_attrs.get(RETRY_ATTR, [])}
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


def failed_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """The study's counted FAIL trials (all workers, all runs of the sweep): what
    ``sweep.max_failures`` limits. A trial that was retried is not among them."""
    return [t for t in counted_trials(trials) if t.state == TrialState.FAIL]


def is_surplus(trials: Iterable[FrozenTrial], number: int, *, n_trials: int) -> bool:
    """Whether trial ``number`` comes after ``n_trials`` counted trials with smaller numbers."""
    earlier = [t for t in counted_trials(trials) if t.number < number]
    return len(earlier) >= n_trials


def check_failures(trials: Iterable[FrozenTrial], limit: int | None) -> None:
    """Stop the sweep when the study holds ``limit`` failed trials, whichever worker or run of
    the sweep failed them.

    Raises:
        UserError: naming the count, the limit and the last failure's reason.
    """
    failed = failed_trials(trials)
    if limit is None or len(failed) < limit:
        return
    last = max(failed, key=lambda t: t.number)
    raise UserError(
        f"{len(failed)} trials of this study failed (sweep.max_failures={limit}); the last one, "
        f"trial {last.number}: {last.user_attrs.get('fail_reason', 'no reason recorded')}. "
        "Fix the cause, then raise sweep.max_failures or start a new sweep.study_name."
    )
