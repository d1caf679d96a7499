"""The study's progress line: which approach, how many remain, the time so far and an estimate
of the rest.

The estimate weighs each approach by the work it queues: a network approach by its members times
its training rows (a sampler that doubles the rows doubles the fit), anything else as one
member on the plain training rows. Time so far divided by the work done so far, times the work
left, is the estimate; it is said only once some work is done.
"""

from __future__ import annotations

import time


def clock(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class StudyProgress:
    """Says, as each approach starts, where the study stands.

    Args:
        work: approach -> its weight (e.g. members x training rows), in the order they run.
    """

    def __init__(self, work: dict[str, float]) -> None:
        self.work = dict(work)
        self.started = time.perf_counter()
        self._done = 0.0
        self._index = 0

    def starting(self, name: str) -> str:
        """The line for approach ``name`` starting; the approaches before it count as done."""
        self._index += 1
        elapsed = time.perf_counter() - self.started
        left = sum(self.work.values()) - self._done
        line = f"Approach {self._index}/{len(self.work)}: {name} ({clock(elapsed)} so far"
        if self._done > 0 and elapsed > 0:
            line += f", about {clock(elapsed / self._done * left)} left"
        self._done += self.work.get(name, 0.0)
        return line + ")"
