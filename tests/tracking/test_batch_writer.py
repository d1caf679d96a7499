"""BatchWriter against real sinks that fail on purpose, a real journal file and a real SQLite store."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from trainer.tracking.batch_writer import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    BatchWriter,
)
from trainer.tracking.delivery import log_batch
from trainer.tracking.journal import Journal, read_journal
from trainer.tracking.store_errors import is_permanent_error

from .conftest import Store

FAST = {"flush_interval": 0.02, "max_backoff": 0.05}


KINDS = {"m": "metric", "p": "param", "t": "tag"}


def recs(kind: str, values: Any) -> list[dict[str, Any]]:
    """Records as the logger makes them: ``recs("m", range(3))`` -> three metric points."""
    out: list[dict[str, Any]] = []
    for v in values:
        if kind == "m":
            out.append({"kind": "metric", "key": "m", "value": float(v), "timestamp": 1, "step": int(v)})
        else:
            out.append({"kind": KINDS[kind], "key": f"{kind}{v}", "value": str(v)})
    return out


def of_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == KINDS[kind]]


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

    def __call__(self, records: list[dict[str, Any]]) -> None:
        metrics, params, tags = of_kind(records, "m"), of_kind(records, "p"), of_kind(records, "t")
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
        new_metrics = recs("m", range(i * 100, i * 100 + 100))
        new_params = recs("p", range(i * 10, i * 10 + 10))
        new_tags = recs("t", range(i * 6, i * 6 + 6))
        writer.add(new_metrics + new_params + new_tags)
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
    metrics, params, tags = recs("m", range(4500)), recs("p", range(250)), recs("t", range(130))
    writer.add(metrics + params + tags)
    left = writer.close(timeout=20)
    assert len(left) == 0
    assert sink.metrics == metrics
    assert sink.params == params
    assert sink.tags == tags
    assert len(sink.calls) >= 8  # 5 chunks at least, plus the three failed calls


def test_chunks_respect_mlflow_batch_limits() -> None:
    sink = Sink()
    writer = BatchWriter(sink, flush_interval=60.0)
    writer.add(recs("m", range(2600)) + recs("p", range(230)) + recs("t", range(170)))
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
    metrics, params, tags = recs("m", range(1500)), recs("p", range(120)), recs("t", range(7))
    writer.add(metrics + params + tags)
    started = time.monotonic()
    left = writer.close(timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4.0
    assert of_kind(left, "m") == metrics
    assert of_kind(left, "p") == params
    assert of_kind(left, "t") == tags
    assert sink.metrics == []
    assert len(sink.calls) >= 3, "it kept retrying until the deadline"
    assert writer.failures >= 3
    assert writer.last_error is not None
    assert "connection refused" in writer.last_error


def test_close_hands_back_only_what_is_missing_after_a_partial_delivery() -> None:
    sink = Sink(fail_calls=set(range(2, 10_000)))  # the first call succeeds, then the store is down
    writer = BatchWriter(sink, flush_interval=60.0, max_backoff=0.05)
    metrics = recs("m", range(2500))
    writer.add(metrics)
    left = writer.close(timeout=0.5)
    assert sink.metrics == metrics[:1000]
    assert left == metrics[1000:]


def test_a_refused_record_stays_in_the_journal_and_its_neighbours_arrive(tmp_path: Path) -> None:
    """A store that refuses one param refuses its whole batch: the writer halves the batch until
    the refused record is alone, so everything else arrives, and the refused one stays in the
    journal, undelivered, with the reason (never "rejected N items, dropped")."""
    params = recs("p", range(250))
    poison = params[130]
    metrics = recs("m", range(3000))
    sink = Sink(reject=lambda chunk_params: poison in chunk_params)
    journal = Journal(tmp_path / "journal.jsonl", {"run_id": None})
    writer = BatchWriter(sink, journal=journal, flush_interval=60.0, is_permanent=is_permanent_error)
    writer.add(metrics + params)
    left = writer.close(timeout=10)
    journal.close()
    assert len(left) == 0
    assert writer.rejected == 1
    assert sink.params == [p for p in params if p is not poison]
    assert sink.metrics == metrics
    state = read_journal(tmp_path / "journal.jsonl")
    (undelivered,) = state.undelivered(prior_in_store=False)
    assert undelivered["key"] == poison["key"]
    assert "Invalid value for a param" in state.rejected[undelivered["seq"]]


def test_every_record_is_journaled_before_it_is_sent(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", {"run_id": None})
    seen_in_journal: list[int] = []

    def send(records: list[dict[str, Any]]) -> None:
        on_disk = {r["seq"] for r in read_journal(tmp_path / "journal.jsonl").records}
        seen_in_journal.extend(int(r["seq"] in on_disk) for r in records)
        if len(seen_in_journal) <= 1500:
            raise StoreDown("down")

    writer = BatchWriter(send, journal=journal, **FAST)
    writer.add(recs("m", range(1200)) + recs("p", range(3)))
    assert len(writer.close(timeout=20)) == 0
    journal.close()
    assert seen_in_journal and all(seen_in_journal)
    state = read_journal(tmp_path / "journal.jsonl")
    assert len(state.records) == 1203
    assert state.undelivered(prior_in_store=False) == []


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

    def stored_but_reply_lost(records: list[dict[str, Any]]) -> None:
        calls["n"] += 1
        log_batch(client, run_id, records)
        if calls["n"] <= 2:
            raise StoreDown("reply lost after the store committed the batch")

    writer = BatchWriter(stored_but_reply_lost, **FAST)
    stamp = int(time.time() * 1000)
    writer.add(
        [
            {"kind": "metric", "key": "loss", "value": i / 7, "timestamp": stamp, "step": i}
            for i in range(1, 1201)
        ]
        + recs("p", range(30))
        + [{"kind": "tag", "key": "note", "value": "x"}]
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


def test_the_last_record_is_journaled_and_sent_after_everything_in_the_final_chunk(tmp_path: Path) -> None:
    """close(last=...) is how the run's status travels with the last points: after every other
    record in the journal, and in the same call as the last of them when the chunk has room."""
    journal = Journal(tmp_path / "journal.jsonl", {"run_id": None})
    calls: list[list[dict[str, Any]]] = []
    writer = BatchWriter(lambda records: calls.append(list(records)), journal=journal, flush_interval=60.0)
    writer.add(recs("m", range(1500)))
    status = {"kind": "status", "status": "FINISHED", "end_time": 1}
    assert writer.close(timeout=10, last=status) == []
    journal.close()
    assert [len(call) for call in calls] == [1000, 501]
    assert calls[-1][-1] is status
    state = read_journal(tmp_path / "journal.jsonl")
    assert state.records[-1]["kind"] == "status"
    assert state.undelivered(prior_in_store=False) == []


def test_a_last_record_that_cannot_be_sent_is_handed_back_journaled(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", {"run_id": None})
    writer = BatchWriter(Sink(always_fail=True), journal=journal, **FAST)
    writer.add(recs("m", range(3)))
    status = {"kind": "status", "status": "FINISHED", "end_time": 1}
    left = writer.close(timeout=0.3, last=status)
    journal.close()
    assert left[-1] is status and len(left) == 4
    assert read_journal(tmp_path / "journal.jsonl").status == status
