"""Datasets, files, models and a run's closing status: journaled, then sent one at a time, in order."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.redact import describe_error
from trainer.tracking.journal import Journal

log = logging.getLogger(__name__)

Record = dict[str, Any]


class SlowQueue:
    """The records the batch writer does not take, delivered in journal order on the caller's thread.

    Each record is journaled when given and tried at once, even after failures (the store may be
    back): delivery stops at the first failure, so an unreachable store costs one failed request,
    and the rest wait in the journal for the next try or for ``trainer upload``. A record the
    store refuses is marked rejected in the journal and counted in :attr:`rejected`.

    Args:
        journal: the run's journal.
        deliver: sends one record (opening the run first if needed) and returns its result (a
            model URI, or None); raises when the store failed.
        is_permanent: whether an error is the store refusing the record, not being away.
    """

    def __init__(
        self,
        journal: Journal,
        deliver: Callable[[Record], str | None],
        is_permanent: Callable[[Exception], bool],
    ) -> None:
        self._journal = journal
        self._deliver = deliver
        self._is_permanent = is_permanent
        self.records: list[Record] = []  # journaled, not delivered yet, in order
        self.rejected = 0
        self._prior: list[Record] | None = None  # handed from the writer thread to flush()

    @property
    def idle(self) -> bool:
        """Nothing waits to be sent."""
        return not self.records and self._prior is None

    def hand_over(self, prior: list[Record]) -> None:
        """Queue the old run's records ahead of the rest (a resume that made a new run)."""
        self._prior = prior

    def add(self, record: Record) -> str | None:
        """Journal ``record``, then send what waits; return the record's result if it was sent."""
        record["time"] = int(time.time() * 1000)
        self._journal.append([record])
        self.records.append(record)
        return self.flush().get(record["seq"])

    def flush(self) -> dict[int, str | None]:
        """Send the waiting records in order; stop at the first failure, leaving the rest in the
        journal. Returns each delivered record's result."""
        if self._prior is not None:
            self.records[:0], self._prior = self._prior, None
        results: dict[int, str | None] = {}
        while self.records:
            record = self.records[0]
            try:
                results[record["seq"]] = self._deliver(record)
            except Exception as exc:  # any store error: kept in the journal, and the user is told
                if not self._is_permanent(exc):
                    log.warning(
                        "Could not record %s (%s); it is kept in %s for `trainer upload`.",
                        _name(record),
                        describe_error(exc),
                        self._journal.path,
                    )
                    return results
                log.warning(
                    "The store refused %s: %s; it stays in the journal.", _name(record), describe_error(exc)
                )
                self._journal.mark("rejected", [record["seq"]], reason=describe_error(exc, 300))
                self.rejected += 1
            else:
                self._journal.mark("delivered", [record["seq"]])
            self.records.pop(0)
        return results


def _name(record: Record) -> str:
    if record["kind"] in ("artifact", "model"):
        return f"{record['kind']} {Path(record['path']).name}"
    return str(record["kind"])
