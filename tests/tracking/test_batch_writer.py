"""BatchWriter against real in-process sinks that fail on purpose, and against a real SQLite store."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from trainer.tracking.batch_writer import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    BatchWriter,
)
from trainer.tracking.mlflow_logger import is_permanent_error

from .conftest import Store

FAST = {"flush_interval": 0.02, "max_backoff": 0.05}


class StoreDown(ConnectionError):
    """What a dead server looks like to the writer: a transient error."""


class Sink:
    """A real receiver: keeps what it accepts, in order; fails the calls it is told to fail.

    Args:
        fail_calls: 1-based numbers of the calls that raise a transient error.
        fail_first: the first n calls raise a transient error.
        always_fail: every call raises a transient error.
        reject: a predicate on a call's params; True raises a permanent MLflow error.
    """

    def __init__(
        self,
        *,
        fail_calls: Collection[int] = (),
        fail_first: int = 0,
        always_fail: bool = False,
        reject: Any = None,
    ) -> None:
        self.fail_calls = set(fail_calls)
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.reject = reject
        self.calls: list[tuple[list[Any], list[Any], list[Any]]] = []  # every call, failed or not
        self.rejected: list[tuple[list[Any], list[Any], list[Any]]] = []
        self.metrics: list[Any] = []
        self.params: list[Any] = []
        self.tags: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, metrics: list[Any], params: list[Any], tags: list[Any]) -> None:
        with self.lock:
            self.calls.append((list(metrics), list(params), list(tags)))
            n = len(self.calls)
        if self.always_fail or n <= self.fail_first or n in self.fail_calls:
            raise StoreDown(f"connection refused (call {n})")
        if self.reject is not None and self.reject(params):
            self.rejected.append((list(metrics), list(params), list(tags)))
            raise MlflowException("Invalid value for a param", error_code=INVALID_PARAMETER_VALUE)
        with self.lock:
            self.metrics.extend(metrics)
            self.params.extend(params)
            self.tags.extend(tags)


def test_items_arrive_in_order_exactly_once_after_transient_failures() -> None:
    sink = Sink(fail_first=4)
    writer = BatchWriter(sink, **FAST)
    metrics, params, tags = [], [], []
    for i in range(25):  # items keep coming while the sink is still failing
        new_metrics = [("m", i * 100 + j) for j in range(100)]
        new_params = [("p", i * 10 + j) for j in range(10)]
        new_tags = [("t", i * 6 + j) for j in range(6)]
        writer.add(metrics=new_metrics, params=new_params, tags=new_tags)
        metrics += new_metrics
        params += new_params
        tags += new_tags
        time.sleep(0.005)
    left = writer.close(timeout=20)
    assert len(left) == 0
    assert sink.metrics == metrics
    assert sink.params == params
    assert sink.tags == tags
    assert len(sink.calls) > 4, "the failing calls were retried"
    assert writer.failures == 0, "the last delivery succeeded"
    assert writer.delivered == len(metrics) + len(params) + len(tags)


def test_a_failure_in_the_middle_of_a_multi_chunk_delivery_loses_and_repeats_nothing() -> None:
    sink = Sink(fail_calls={2, 3, 5})
    writer = BatchWriter(sink, flush_interval=60.0, max_backoff=0.05)  # one big delivery, on close
    metrics = [("m", i) for i in range(4500)]
    params = [("p", i) for i in range(250)]
    tags = [("t", i) for i in range(130)]
    writer.add(metrics=metrics, params=params, tags=tags)
    left = writer.close(timeout=20)
    assert len(left) == 0
    assert sink.metrics == metrics
    assert sink.params == params
    assert sink.tags == tags
    assert len(sink.calls) >= 8  # 5 chunks at least, plus the three failed calls


def test_chunks_respect_mlflow_batch_limits() -> None:
    sink = Sink()
    writer = BatchWriter(sink, flush_interval=60.0)
    writer.add(
        metrics=[("m", i) for i in range(2600)],
        params=[("p", i) for i in range(230)],
        tags=[("t", i) for i in range(170)],
    )
    assert len(writer.close(timeout=10)) == 0
    assert len(sink.calls) >= 3  # 3000 items need three batches of at most 1000
    for metrics, params, tags in sink.calls:
        assert len(metrics) <= MAX_METRICS_PER_BATCH
        assert len(params) <= MAX_PARAMS_PER_BATCH
        assert len(tags) <= MAX_TAGS_PER_BATCH
        assert len(metrics) + len(params) + len(tags) <= 1000  # MLflow's limit on a whole batch
    assert len(sink.metrics) == 2600
    assert len(sink.params) == 230
    assert len(sink.tags) == 170


def test_close_returns_what_could_not_be_delivered_within_the_timeout() -> None:
    sink = Sink(always_fail=True)
    writer = BatchWriter(sink, **FAST)
    metrics = [("m", i) for i in range(1500)]
    params = [("p", i) for i in range(120)]
    tags = [("t", i) for i in range(7)]
    writer.add(metrics=metrics, params=params, tags=tags)
    started = time.monotonic()
    left = writer.close(timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4.0
    assert left.metrics == metrics
    assert left.params == params
    assert left.tags == tags
    assert sink.metrics == []
    assert len(sink.calls) >= 3, "it kept retrying until the deadline"
    assert writer.failures >= 3
    assert writer.last_error is not None
    assert "connection refused" in writer.last_error


def test_close_hands_back_only_what_is_missing_after_a_partial_delivery() -> None:
    sink = Sink(fail_calls=set(range(2, 10_000)))  # the first call succeeds, then the store is down
    writer = BatchWriter(sink, flush_interval=60.0, max_backoff=0.05)
    metrics = [("m", i) for i in range(2500)]
    writer.add(metrics=metrics)
    left = writer.close(timeout=0.5)
    assert sink.metrics == metrics[:1000]
    assert left.metrics == metrics[1000:]


def test_permanent_errors_drop_only_the_offending_chunk() -> None:
    poison = ("p", "poison")
    params = [("p", i) for i in range(250)]
    params[130] = poison  # lands in the second params chunk
    metrics = [("m", i) for i in range(3000)]
    sink = Sink(reject=lambda chunk_params: poison in chunk_params)
    writer = BatchWriter(sink, flush_interval=60.0, is_permanent=is_permanent_error)
    writer.add(metrics=metrics, params=params)
    left = writer.close(timeout=10)
    assert len(left) == 0
    assert len(sink.rejected) == 1, "a rejected chunk is not retried"
    bad_metrics, bad_params, _ = sink.rejected[0]
    assert poison in bad_params
    assert writer.dropped == len(bad_metrics) + len(bad_params)
    # Everything outside the rejected chunk arrived, in order, once.
    assert sink.params == [p for p in params if p not in set(bad_params)]
    assert sink.metrics == [m for m in metrics if m not in set(bad_metrics)]
    assert len(sink.params) + len(bad_params) == len(params)
    assert len(sink.metrics) + len(bad_metrics) == len(metrics)


def test_transient_errors_are_not_taken_for_permanent_ones() -> None:
    assert is_permanent_error(MlflowException("bad", error_code=INVALID_PARAMETER_VALUE))
    assert not is_permanent_error(MlflowException("server error"))  # INTERNAL_ERROR: retry
    assert not is_permanent_error(StoreDown("refused"))


def test_resending_a_batch_whose_reply_was_lost_creates_no_duplicates(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The module docstring's promise, checked on a real store: a batch that was stored but
    reported as failed is sent again, and MLflow keeps one copy of each point."""
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    calls = {"n": 0}

    def stored_but_reply_lost(metrics: list[Any], params: list[Any], tags: list[Any]) -> None:
        calls["n"] += 1
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags, synchronous=True)
        if calls["n"] <= 2:
            raise StoreDown("reply lost after the store committed the batch")

    writer = BatchWriter(stored_but_reply_lost, **FAST)
    stamp = int(time.time() * 1000)
    writer.add(
        metrics=[Metric("loss", float(i) / 7, stamp, i) for i in range(1, 1201)],
        params=[Param(f"p{i}", str(i)) for i in range(30)],
        tags=[RunTag("note", "x")],
    )
    assert len(writer.close(timeout=20)) == 0
    assert calls["n"] >= 4  # two failed (but stored) sends, then the chunks again
    history = client.get_metric_history(run_id, "loss")
    assert sorted(m.step for m in history) == list(range(1, 1201))
    run = client.get_run(run_id)
    assert len(run.data.params) == 30
    assert run.data.tags["note"] == "x"


@pytest.mark.parametrize("timeout", [0.0, 0.3])
def test_close_with_nothing_pending_returns_at_once(timeout: float) -> None:
    sink = Sink(always_fail=True)
    writer = BatchWriter(sink, flush_interval=60.0)
    started = time.monotonic()
    assert len(writer.close(timeout=timeout)) == 0
    assert time.monotonic() - started < 1.5
