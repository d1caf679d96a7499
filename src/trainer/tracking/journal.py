"""The journal: every tracking record of a run, appended to the run folder as it is produced.

One JSON object per line, append-only, so a process killed at any moment leaves a readable
file (a torn last line is skipped). The first line is a header (where the records go, the run
id, the run's start time, the ``run_key`` the run is tagged with); then records, each with a
sequence number ``seq``::

    {"kind": "metric", "seq": 7, "key": "val/loss", "value": 0.31, "timestamp": ..., "step": 40}
    {"kind": "param" | "tag", "seq": ..., "key": ..., "value": ...}
    {"kind": "dataset", "seq": ..., "datasets": [...]}      serialisable DatasetInput fields
    {"kind": "artifact", "seq": ..., "path": ..., "artifact_path": ...}
    {"kind": "model", "seq": ..., "path": ..., "name": ..., "step": ...}
    {"kind": "status", "seq": ..., "status": "FINISHED", "end_time": ...}

and marks about them, which never change a record:

    {"kind": "run", "run_id": ..., "resumed_from": ...}     the run the records go to
    {"kind": "delivered", "seqs": [[first, last], ...]}     MLflow has these records
    {"kind": "rejected", "seqs": [[first, last]], "reason": ...}  refused; kept for an upload
    {"kind": "handed_over", "to": ...}                      a resume carried the rest elsewhere

A record copied from an earlier journal by a resume has ``"carried": true``; one that the
earlier journal had already delivered also has ``"prior": true`` (the store has it if, and only
if, the run still exists there). The live process holds an ``fcntl`` lock on the file, so an
upload can tell a killed run from one that is still going.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, TextIO

JOURNAL_NAME = "tracking_journal.jsonl"
FORMAT_VERSION = 1
#: Record kinds the background writer batches into ``log_batch``; the rest are sent one by one.
BATCHED_KINDS = frozenset({"metric", "param", "tag"})


def split_batched(records: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(batched, one_by_one)``: the records the background writer sends, and the rest."""
    batched: list[dict[str, Any]] = []
    one_by_one: list[dict[str, Any]] = []
    for record in records:
        (batched if record["kind"] in BATCHED_KINDS else one_by_one).append(record)
    return batched, one_by_one


# One encoder for every line: ``json.dumps(..., default=str)`` builds a new one per call, which
# was a third of the journal's cost per metric point (json.dumps' own output, same bytes).
_ENCODER = json.JSONEncoder(default=str)
#: A metric point's fields as the logger makes them, in order (``seq`` is added by append()).
_METRIC_FIELDS = ("kind", "key", "value", "timestamp", "step", "seq")


def encode_line(line: dict[str, Any]) -> str:
    """One journal line, the bytes ``json.dumps(line, default=str)`` gives.

    A metric point as the logger makes it is written with one f-string: the writer thread
    journals every point while it holds the GIL that the training thread needs, and this takes
    half the time (1.8 us a point instead of 3.2-3.7). Anything else (a carried point, a NaN, a
    numpy value) goes through the JSON encoder.
    """
    if tuple(line) == _METRIC_FIELDS and line["kind"] == "metric":
        key, value, step, seq = line["key"], line["value"], line["step"], line["seq"]
        timestamp = line["timestamp"]
        if (
            type(key) is str
            and type(value) is float
            and math.isfinite(value)
            and type(timestamp) is int
            and type(step) is int
            and type(seq) is int
        ):
            return (
                f'{{"kind": "metric", "key": {encode_basestring_ascii(key)}, "value": {value!r}, '
                f'"timestamp": {timestamp}, "step": {step}, "seq": {seq}}}'
            )
    return _ENCODER.encode(line)


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 7]`` -> ``[[1, 3], [7, 7]]``: delivery marks stay short."""
    ranges: list[list[int]] = []
    for seq in sorted(seqs):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _expand(ranges: Sequence[Sequence[int]]) -> Iterable[int]:
    for first, last in ranges:
        yield from range(first, last + 1)


class JournalBusy(RuntimeError):
    """Another live process holds the journal (the run is still going)."""


class Journal:
    """An open journal that this process appends to; safe to use from several threads.

    Args:
        path: the journal file; created with ``header`` when it does not exist.
        header: the header's fields (written only when the file is new).

    Raises:
        JournalBusy: another live process holds the file.
    """

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        existing = self.path.is_file() and self.path.stat().st_size > 0
        self._file: TextIO = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise JournalBusy(f"{self.path} is held by a running process") from None
        if existing:
            self._next_seq = read_journal(self.path).last_seq + 1
        else:
            self._next_seq = 1
            self._write([{"kind": "header", "version": FORMAT_VERSION, **(header or {})}])

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Give each record the next ``seq`` (in place) and append them, flushed to the OS.

        A kill -9 loses nothing once this returns (the OS has the bytes); a power cut may.
        """
        with self._lock:
            for record in records:
                record["seq"] = self._next_seq
                self._next_seq += 1
            self._write(records)

    def mark(self, kind: str, seqs: Iterable[int] = (), **fields: Any) -> None:
        """Append a mark (``delivered``, ``rejected``, ``run``, ``handed_over``)."""
        line: dict[str, Any] = {"kind": kind, **fields}
        ranges = seq_ranges(seqs)
        if ranges:
            line["seqs"] = ranges
        elif kind in ("delivered", "rejected"):
            return
        with self._lock:
            self._write([line])

    def close(self) -> None:
        """Release the file (and the lock on it)."""
        # Every write was flushed already, so a failing close loses nothing (and frees the lock).
        with self._lock, contextlib.suppress(OSError):
            self._file.close()

    def _write(self, lines: Sequence[dict[str, Any]]) -> None:
        if self._file.closed:
            return
        self._file.write("".join([encode_line(line) + "\n" for line in lines]))
        self._file.flush()


@dataclass
class JournalState:
    """What a journal file says, read back."""

    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    delivered: set[int] = field(default_factory=set)
    rejected: dict[int, str] = field(default_factory=dict)
    run_id: str | None = None  # from the last "run" mark, else the header's
    run_confirmed: bool = False  # a "run" mark exists: the store's run was found or made
    run_is_new: bool = False  # that run was made new by a resume (prior records go to it too)
    handed_over: str | None = None
    last_seq: int = 0

    def undelivered(self, *, prior_in_store: bool) -> list[dict[str, Any]]:
        """Records the store does not have yet, in the order they were produced.

        Args:
            prior_in_store: the run that carried records were delivered to is the one the
                records go to now, so ``prior`` records are there already.
        """
        return [
            r
            for r in self.records
            if r["seq"] not in self.delivered and not (r.get("prior") and prior_in_store)
        ]

    @property
    def status(self) -> dict[str, Any] | None:
        """The final status record, if the run ended (a killed process leaves none)."""
        return next((r for r in reversed(self.records) if r["kind"] == "status"), None)

    @property
    def last_time(self) -> int | None:
        """The latest time (ms) any record carries: when a killed run was last heard of."""
        times = [int(r.get("timestamp") or r.get("time") or 0) for r in self.records]
        return max(times, default=0) or None


def read_journal(path: Path) -> JournalState:
    """Read a journal file; a torn last line (the process died mid-write) is skipped.

    Raises:
        ValueError: the file has no header line.
    """
    state = JournalState(path=Path(path))
    with open(path, encoding="utf-8") as f:
        for text in f:
            try:
                line = json.loads(text)
            except ValueError:
                continue  # only the last line can be torn: a kill mid-write
            kind = line.get("kind")
            if kind == "header":
                state.header = line
                state.run_id = line.get("run_id")
            elif kind == "run":
                state.run_id = line["run_id"]
                state.run_is_new = bool(line.get("resumed_from"))
                state.run_confirmed = True
            elif kind == "delivered":
                state.delivered.update(_expand(line["seqs"]))
            elif kind == "rejected":
                for seq in _expand(line["seqs"]):
                    state.rejected[seq] = str(line.get("reason", ""))
            elif kind == "handed_over":
                state.handed_over = str(line["to"])
            elif "seq" in line:
                state.records.append(line)
                state.last_seq = max(state.last_seq, int(line["seq"]))
    if not state.header:
        raise ValueError(f"{path} is not a tracking journal (no header line)")
    return state


def find_journal(near: Path) -> Path | None:
    """The journal of the run a checkpoint belongs to: beside it or in the folders above.

    ``runs/<run>/checkpoints/last.ckpt`` finds ``runs/<run>/tracking_journal.jsonl``.
    """
    for folder in list(Path(near).resolve().parents)[:3]:
        candidate = folder / JOURNAL_NAME
        if candidate.is_file():
            return candidate
    return None


def rotate(path: Path) -> Path | None:
    """Move an existing journal aside (``tracking_journal.1.jsonl``, ...); a run folder reused by a
    resume gets a fresh journal, and the old one is carried over like any other."""
    if not path.exists():
        return None
    for n in range(1, 10_000):
        target = path.with_name(f"{path.stem}.{n}{path.suffix}")
        if not target.exists():
            os.replace(path, target)
            return target
    raise RuntimeError(f"too many old journals beside {path}")
