"""Carry a killed run's journal into the journal of the run that resumes its checkpoint.

A resume replays training from the checkpoint's step and, being deterministic, produces the
same values again. So the old journal's records are split at that step:

- metric and model records at a step after the checkpoint are left behind: the replay makes
  them again (the status of the old process goes too: the resumed run ends with its own);
- everything else is copied into the new journal marked ``carried``; the ones the old journal
  had delivered are also marked ``prior`` (the store has them if the run still exists there);
- the old journal gets a ``handed_over`` mark naming the new one.

The metric points carried, plus those the store holds, are the ``(key, step)`` pairs a replay
must not send again (see :class:`trainer.tracking.mlflow_logger.MLflowLogger`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.tracking.journal import JOURNAL_NAME, Journal, JournalBusy, find_journal, read_journal, rotate

log = logging.getLogger(__name__)

Record = dict[str, Any]
#: Kinds whose records a replay from the checkpoint produces again when their step is later.
STEPPED_KINDS = frozenset({"metric", "model"})


@dataclass
class Carry:
    """What a resume takes over from the journal of the run it continues."""

    source: Path
    run_id: str | None  # the run those records went to (a "run" mark beats the header)
    start_time: int | None  # the original run's start (ms)
    records: list[Record] = field(default_factory=list)
    run_key: str | None = None  # the key the earlier journal tagged its run with

    @property
    def metric_pairs(self) -> set[tuple[str, int]]:
        """The ``(key, step)`` of every carried metric point."""
        return {(r["key"], int(r["step"])) for r in self.records if r["kind"] == "metric"}


def load_carry(source: Path, *, resume_step: int | None) -> Carry | None:
    """Read what a resume at ``resume_step`` takes over from the journal at ``source``.

    Returns:
        None when the journal cannot be read (it is then left as it is, for ``trainer upload``).
    """
    try:
        state = read_journal(source)
    except (OSError, ValueError) as exc:
        log.warning("Could not read the journal %s (%s); it is left for `trainer upload`.", source, exc)
        return None
    prior_in_store = state.run_confirmed and not state.run_is_new
    records = []
    for record in state.records:
        kind = record["kind"]
        if kind == "status":
            continue
        if kind in STEPPED_KINDS and resume_step is not None and int(record.get("step", 0)) > resume_step:
            continue
        copy = {k: v for k, v in record.items() if k != "seq"}
        copy["carried"] = True
        if record["seq"] in state.delivered or (record.get("prior") and prior_in_store):
            copy["prior"] = True
        else:
            copy.pop("prior", None)
        records.append(copy)
    start = state.header.get("start_time")
    key = state.header.get("run_key")
    return Carry(source, state.run_id, int(start) if start else None, records, str(key) if key else None)


def commit_carry(carry: Carry, journal: Journal) -> None:
    """Append the carried records to ``journal`` (giving them new ``seq``), then mark the old
    journal handed over. Should the process die between the two, a later resume carries the
    same records again, which the store takes as exact duplicates."""
    journal.append(carry.records)
    try:
        old = Journal(carry.source)
    except JournalBusy:
        log.warning("%s is held by a running process; it is not marked as carried over.", carry.source)
        return
    try:
        old.mark("handed_over", to=str(journal.path))
    finally:
        old.close()


def open_journal(
    run_dir: Path, header: dict[str, Any], *, resume_from: Path | None, resume_step: int | None
) -> tuple[Journal, Carry | None]:
    """Start the run's journal; on a resume, carry the killed run's records into it first.

    Args:
        run_dir: the run folder (the journal is ``run_dir/tracking_journal.jsonl``).
        header: the journal's first line; on a resume its ``run_id``, ``start_time`` and
            ``run_key`` are updated from the earlier journal (the run may have moved to a new
            one, or been made without its id reaching that journal).
        resume_from: the checkpoint being resumed, whose run folder holds the earlier journal.
        resume_step: the checkpoint's global step; later points are produced again.

    Returns:
        The open journal, and what was carried over (None when nothing was).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / JOURNAL_NAME
    source = find_journal(resume_from) if resume_from else None
    moved = rotate(path)  # a reused run folder: its journal belongs to the run before
    if source is not None and source.resolve() == path.resolve():
        source = moved
    carry = load_carry(source, resume_step=resume_step) if source else None
    if carry and carry.run_id:
        header["run_id"] = carry.run_id
    if carry and carry.start_time:
        header["start_time"] = carry.start_time
    if carry and carry.run_key:
        header["run_key"] = carry.run_key
    journal = Journal(path, header)
    if carry:
        commit_carry(carry, journal)
        log.info("Carried %d records over from %s.", len(carry.records), carry.source)
    return journal, carry
