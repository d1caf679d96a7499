"""A background thread that sends metrics, params and tags in batches, retrying with backoff.

The training loop only appends to a list under a lock (microseconds). The thread wakes every
``flush_interval`` seconds, sends what is pending in chunks within MLflow's batch limits, and
on failure keeps every unsent item, in order, and retries with exponential backoff. MLflow's
stores ignore an exact duplicate metric point (same key, step, timestamp and value), so a
batch whose reply was lost can be resent without creating duplicates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainer.redact import describe_error, redact

log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation): 1000 metrics, 100 params, 100 tags per call.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100


@dataclass
class Pending:
    """Items not yet acknowledged by the store, oldest first."""

    params: list[Any] = field(default_factory=list)
    tags: list[Any] = field(default_factory=list)
    metrics: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.params) + len(self.tags) + len(self.metrics)

    def prepend(self, other: Pending) -> None:
        self.params[:0] = other.params
        self.tags[:0] = other.tags
        self.metrics[:0] = other.metrics


SendBatch = Callable[[list[Any], list[Any], list[Any]], None]  # (metrics, params, tags)


class BatchWriter:
    """Deliver items through ``send`` from a daemon thread.

    Args:
        send: called with ``(metrics, params, tags)`` chunks; raises on failure.
        flush_interval: seconds between deliveries while all is well.
        max_backoff: longest wait between retries after failures.
        is_permanent: tells an error that retrying cannot fix (a rejected value) from a
            transient one (server down); the chunk that caused it is dropped, not retried.
        name: thread name (shows in stack dumps).
    """

    def __init__(
        self,
        send: SendBatch,
        *,
        flush_interval: float = 1.0,
        max_backoff: float = 30.0,
        is_permanent: Callable[[Exception], bool] = lambda exc: False,
        name: str = "trainer-tracking",
    ) -> None:
        self._send = send
        self._is_permanent = is_permanent
        self.dropped = 0
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self._pending = Pending()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._deadline = float("inf")
        self.failures = 0  # consecutive failed deliveries
        self.last_error: str | None = None
        self.delivered = 0
        self._in_flight = False  # a delivery is under way (flush waits for it)
        self._in_flight_items = Pending()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- producer side (training thread)
    def add(
        self, *, metrics: Sequence[Any] = (), params: Sequence[Any] = (), tags: Sequence[Any] = ()
    ) -> None:
        with self._lock:
            self._pending.metrics.extend(metrics)
            self._pending.params.extend(params)
            self._pending.tags.extend(tags)

    def close(self, timeout: float = 30.0) -> Pending:
        """Deliver what is pending, retrying until ``timeout``; return what could not be sent."""
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout + 5.0)
        with self._lock:
            left, self._pending = self._pending, Pending()
            if self._thread.is_alive():
                # A send is hanging past the deadline: what it holds counts as undelivered too.
                # Should it still land, a later upload resends the same points, which MLflow
                # ignores as exact duplicates.
                left.prepend(self._in_flight_items)
        return left

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
                    done = len(self._pending) == 0
                if done or time.monotonic() >= self._deadline:
                    return
                if not ok:
                    backoff = min(backoff, 1.0)  # while closing, retry often until the deadline

    def _deliver(self) -> bool:
        with self._lock:
            batch, self._pending = self._pending, Pending()
            self._in_flight = len(batch) > 0
        try:
            while len(batch):
                chunk = self._take_chunk(batch)
                with self._lock:  # what close() hands back if this send never returns
                    self._in_flight_items = Pending(
                        chunk.params + batch.params, chunk.tags + batch.tags, chunk.metrics + batch.metrics
                    )
                try:
                    self._send(chunk.metrics, chunk.params, chunk.tags)
                except Exception as exc:  # any transport or server error: keep and retry later
                    if self._is_permanent(exc):
                        self.dropped += len(chunk)
                        log.warning(
                            "Tracking store rejected %d items, dropped: %s",
                            len(chunk),
                            describe_error(exc, 300),
                        )
                        continue
                    batch.prepend(chunk)
                    self.failures += 1
                    self.last_error = f"{type(exc).__name__}: {redact(str(exc))}"
                    if self.failures in (1, 5) or self.failures % 20 == 0:
                        log.warning(
                            "Tracking store unreachable (%s); %d items kept for retry.",
                            self.last_error.splitlines()[0][:200],
                            len(batch),
                        )
                    with self._lock:
                        self._pending.prepend(batch)
                    return False
                self.delivered += len(chunk)
                if self.failures:
                    log.info("Tracking store reachable again; delivering buffered items.")
                self.failures = 0
            return True
        finally:
            with self._lock:
                self._in_flight = False
                self._in_flight_items = Pending()

    @staticmethod
    def _take_chunk(batch: Pending) -> Pending:
        chunk = Pending(
            params=batch.params[:MAX_PARAMS_PER_BATCH],
            tags=batch.tags[:MAX_TAGS_PER_BATCH],
        )
        room = MAX_METRICS_PER_BATCH - len(chunk.params) - len(chunk.tags)
        chunk.metrics = batch.metrics[:room]
        del batch.params[: len(chunk.params)]
        del batch.tags[: len(chunk.tags)]
        del batch.metrics[: len(chunk.metrics)]
        return chunk
