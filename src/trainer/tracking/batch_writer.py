"""A background thread that journals records, then sends them in batches, retrying with backoff.

The training loop only appends to a list under a lock (microseconds, no I/O). The thread wakes
every ``flush_interval`` seconds, appends what is new to the journal (so a kill -9 loses at most
one interval), sends what is pending in chunks within MLflow's batch limits, and marks each
chunk delivered in the journal once the store has it. On a transient failure it keeps every
unsent record, in order, and retries with exponential backoff. A record the store refuses
(a permanent error) stays undelivered in the journal with the reason, for ``trainer upload``;
the chunk is halved until the refused record is alone, so its neighbours still arrive. MLflow's
stores ignore an exact duplicate metric point (same key, step, timestamp and value), so a batch
whose reply (or delivery mark) was lost can be resent without creating duplicates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from trainer.redact import describe_error, redact
from trainer.tracking.journal import Journal

log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation): 1000 metrics, 100 params, 100 tags per call.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100

Record = dict[str, Any]
SendBatch = Callable[[list[Record]], None]


def take_chunk(batch: list[Record]) -> list[Record]:
    """Remove and return the longest prefix of ``batch`` that one ``log_batch`` call accepts."""
    params = tags = 0
    end = 0
    for end, record in enumerate(batch[:MAX_METRICS_PER_BATCH]):  # noqa: B007 - end is used below
        kind = record["kind"]
        if kind == "param":
            if params == MAX_PARAMS_PER_BATCH:
                break
            params += 1
        elif kind == "tag":
            if tags == MAX_TAGS_PER_BATCH:
                break
            tags += 1
    else:
        end = min(len(batch), MAX_METRICS_PER_BATCH)
    chunk = batch[:end]
    del batch[:end]
    return chunk


class BatchWriter:
    """Journal and deliver metric, param and tag records through ``send`` from a daemon thread.

    Args:
        send: called with a chunk of records (dicts with ``kind``); raises on failure.
        journal: where records are appended before they are sent; None keeps them in memory only.
        flush_interval: seconds between deliveries while all is well.
        max_backoff: longest wait between retries after failures.
        is_permanent: tells an error that retrying cannot fix (a refused value) from a
            transient one (server down); refused records are left to the journal, not retried.
        name: thread name (shows in stack dumps).
    """

    def __init__(
        self,
        send: SendBatch,
        *,
        journal: Journal | None = None,
        flush_interval: float = 1.0,
        max_backoff: float = 30.0,
        is_permanent: Callable[[Exception], bool] = lambda exc: False,
        name: str = "trainer-tracking",
    ) -> None:
        self._send = send
        self._journal = journal
        self._is_permanent = is_permanent
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self._incoming: list[Record] = []  # added, not yet journaled
        self._pending: list[Record] = []  # journaled, not yet delivered
        self._in_flight: list[Record] = []  # what close() hands back if a send never returns
        self._lock = threading.Lock()
        self._journal_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._deadline = float("inf")
        self.failures = 0  # consecutive failed deliveries
        self.last_error: str | None = None
        self.delivered = 0
        self.rejected = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- producer side (training thread)
    def add(self, records: Sequence[Record]) -> None:
        """Queue new records (journaled by the thread at its next wake)."""
        with self._lock:
            self._incoming.extend(records)

    def add_journaled(self, records: Sequence[Record], *, first: bool = True) -> None:
        """Queue records already in the journal (carried over by a resume), by default first."""
        with self._lock:
            if first:
                self._pending[:0] = records
            else:
                self._pending.extend(records)
        self._wake.set()

    def close(self, timeout: float = 30.0, *, last: Record | None = None) -> list[Record]:
        """Deliver what is pending, retrying until ``timeout``; return what could not be sent.

        Args:
            timeout: seconds to keep trying.
            last: a record to journal and send after every other one, in the last chunk (the
                run's status: the store can then close the run in the call that brings its
                last points).

        Everything returned is in the journal (when there is one), undelivered.
        """
        if last is not None:
            self.add([last])
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout + 5.0)
        with self._lock:
            new, self._incoming = self._incoming, []
            left, self._pending = self._pending, []
            if self._thread.is_alive():
                # A send is hanging past the deadline: what it holds counts as undelivered too.
                # Should it still land, a later upload resends the same points, which MLflow
                # ignores as exact duplicates.
                left[:0] = self._in_flight
        if new and self._journal is not None:
            self._journal.append(new)
        return left + new

    # -------------------------------------------------------------- consumer side (this thread)
    def _loop(self) -> None:
        backoff = 0.0
        while True:
            wait = self.flush_interval if backoff == 0 else backoff
            if self._closing.is_set():
                wait = min(wait, max(0.0, self._deadline - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            ok = self._deliver()
            backoff = 0.0 if ok else min(max(0.25, backoff * 2), self.max_backoff)
            if self._closing.is_set():
                with self._lock:
                    done = not self._pending and not self._incoming
                if done or time.monotonic() >= self._deadline:
                    return
                if not ok:
                    backoff = min(backoff, 1.0)  # while closing, retry often until the deadline

    def persist(self) -> None:
        """Journal every record added so far, now, on the calling thread (not sent yet).

        Called before a checkpoint is written: a process killed after the checkpoint must not
        lose points logged before it, since a resume replays only what comes after it.
        """
        self._journal_incoming()

    def _journal_incoming(self) -> None:
        # One appender at a time, so the journal keeps the order the records were added in.
        with self._journal_lock:
            with self._lock:
                new, self._incoming = self._incoming, []
            if new and self._journal is not None:
                self._journal.append(new)  # durable before the first attempt to send
            with self._lock:
                self._pending.extend(new)

    def _deliver(self) -> bool:
        self._journal_incoming()
        with self._lock:
            batch, self._pending = self._pending, []
            self._in_flight = list(batch)
        try:
            while batch:
                chunk = take_chunk(batch)
                try:
                    self._send_or_split(chunk)
                except Exception as exc:  # any transport or server error: keep and retry later
                    batch[:0] = chunk
                    self._note_failure(exc, len(batch))
                    with self._lock:
                        self._pending[:0] = batch
                    return False
                with self._lock:
                    self._in_flight = list(batch)
                if self.failures:
                    log.info("Tracking store reachable again; delivering buffered records.")
                self.failures = 0
            return True
        finally:
            with self._lock:
                self._in_flight = []

    def _send_or_split(self, chunk: list[Record]) -> None:
        """Send ``chunk``; if the store refuses it, halve it until the refused records are alone."""
        try:
            self._send(chunk)
        except Exception as exc:
            if not self._is_permanent(exc):
                raise
            if len(chunk) > 1:
                middle = len(chunk) // 2
                self._send_or_split(chunk[:middle])
                self._send_or_split(chunk[middle:])
                return
            self._reject(chunk, exc)
            return
        self.delivered += len(chunk)
        if self._journal is not None:
            self._journal.mark("delivered", (r["seq"] for r in chunk if "seq" in r))

    def _reject(self, chunk: list[Record], exc: Exception) -> None:
        reason = describe_error(exc, 300)
        self.rejected += len(chunk)
        where = f"kept in {self._journal.path} for `trainer upload`" if self._journal else "not kept"
        log.warning("Tracking store refused %s (%s); %s.", _describe(chunk[0]), reason, where)
        if self._journal is not None:
            self._journal.mark("rejected", (r["seq"] for r in chunk if "seq" in r), reason=reason)

    def _note_failure(self, exc: Exception, waiting: int) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {redact(str(exc))}"
        if self.failures in (1, 5) or self.failures % 20 == 0:
            log.warning(
                "Tracking store unreachable (%s); %d records kept for retry.",
                self.last_error.splitlines()[0][:200],
                waiting,
            )


def _describe(record: Record) -> str:
    if record["kind"] == "metric":
        return f"metric {record['key']!r} at step {record['step']}"
    return f"{record['kind']} {record.get('key', '')!r}"
