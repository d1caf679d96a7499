"""``trainer upload <run folder>``: send what a run's journal holds undelivered, exactly once.

Works for a run whose server was down (all of it, or for a while) and for a run whose process
was killed: the journal then has no final status, and the run is closed KILLED at the time of
its last record. Each delivered record is marked in the journal, so an upload cut short and
repeated sends nothing twice.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trainer.errors import UserError
from trainer.redact import MASK, describe_error, redact
from trainer.tracking.batch_writer import take_chunk
from trainer.tracking.delivery import deliver_one, log_batch, metric_pairs, open_run
from trainer.tracking.journal import (
    BATCHED_KINDS,
    JOURNAL_NAME,
    Journal,
    JournalBusy,
    JournalState,
    read_journal,
)
from trainer.tracking.store_lock import make_client

log = logging.getLogger(__name__)


def upload_journal(run_dir: str | Path, *, tracking_uri: str | None = None) -> dict[str, int | str]:
    """Deliver the undelivered records of ``<run_dir>/tracking_journal.jsonl``.

    Args:
        run_dir: the run folder that holds the journal.
        tracking_uri: where to send; defaults to the URI recorded in the journal. A URI that
            needed a password was recorded masked: pass it again here, or set
            MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.

    Returns:
        Counts of what was sent, the run id and the run's final status; ``missing`` counts the
        files and models that were not found (their folder moved or was removed: they stay in
        the journal), and ``missing_from`` names those folders. A run folder that moved as a
        whole is read at its new place.

    Raises:
        UserError: no journal (or nothing undelivered) in the folder, the run is still going,
            or the server still cannot be reached.
    """
    folder = Path(run_dir)
    path = folder / JOURNAL_NAME
    if not path.is_file():
        raise UserError(f"{folder} has no {JOURNAL_NAME}: nothing is waiting to be uploaded.")
    try:
        state = read_journal(path)
    except ValueError as exc:
        raise UserError(f"{path} cannot be read: {exc}.") from None
    if state.handed_over:
        raise UserError(f"A resume carried this run's records over to {state.handed_over}; upload that run.")
    if not state.undelivered(prior_in_store=state.run_confirmed and not state.run_is_new) and state.status:
        raise UserError(f"{folder}: MLflow has every record of this run; nothing is waiting to be uploaded.")
    try:
        journal = Journal(path)
    except JournalBusy:
        raise UserError(
            f"The run in {folder} is still going (its process holds {JOURNAL_NAME}); upload it once it ended."
        ) from None
    uri = tracking_uri or str(state.header["tracking_uri"])
    if MASK in uri and not tracking_uri:
        uri = uri.replace(f":{MASK}@", "@")  # credentials then come from the environment
    try:
        return _upload(make_client(uri), uri, state, journal, folder=folder)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"Could not upload to {redact(uri)}: {describe_error(exc, 300)}. Check that the server runs "
            "(and pass trainer upload <run> logger.tracking_uri=<uri> if it moved); the journal is kept, "
            "and what did arrive is marked in it."
        ) from None
    finally:
        journal.close()


def _upload(
    client: Any, uri: str, state: JournalState, journal: Journal, *, folder: Path
) -> dict[str, int | str]:
    header = state.header
    run_id, experiment_id, missing = open_run(
        client,
        tracking_uri=uri,
        experiment_name=str(header["experiment_name"]),
        run_name=str(header.get("run_name") or ""),
        run_id=state.run_id,
        tags=dict(header.get("run_tags") or {}),
        start_time=header.get("start_time"),
        run_key=header.get("run_key"),
        may_exist=True,  # the killed process may have made the run and died before noting its id
    )
    existing = state.run_id is not None and not missing
    journal.mark("run", run_id=run_id, resumed_from=missing or (state.run_is_new or None))
    records = state.undelivered(prior_in_store=existing and not state.run_is_new)
    if state.status is None:  # the process was killed: close the run as such, when it was last heard of
        killed: dict[str, Any] = {"kind": "status", "status": "KILLED", "end_time": state.last_time}
        journal.append([killed])
        records.append(killed)
    # Points a resumed run replayed, or that arrived while their delivery mark was lost.
    have = metric_pairs(client, run_id) if existing else set()
    batched, skipped = [], []
    for r in records:
        if r["kind"] == "metric":
            pair = (r["key"], int(r["step"]))
            if pair in have and not r.get("carried"):
                skipped.append(r["seq"])
                continue
            have.add(pair)
        if r["kind"] in BATCHED_KINDS:
            batched.append(r)
    journal.mark("delivered", skipped)
    if existing:
        batched = _new_params_only(client, run_id, batched)
    counts = {kind: sum(r["kind"] == kind for r in batched) for kind in ("metric", "param", "tag")}
    while batched:
        chunk = take_chunk(batched)
        log_batch(client, run_id, chunk)
        journal.mark("delivered", (r["seq"] for r in chunk))
    files = LocalFiles(recorded_in=header.get("run_dir"), now_in=folder)
    slow = [files.relocate(r) for r in records if r["kind"] not in BATCHED_KINDS]
    slow.sort(key=lambda r: r["kind"] == "status")  # the status last, whatever came after it
    registered = header.get("registered_model_name")
    sent_files = 0
    for record in slow:
        if files.is_gone(record):  # deleted since: nothing to send, nor to retry
            journal.mark("delivered", [record["seq"]])
            continue
        if files.is_missing(record):  # its folder moved: kept in the journal for a later upload
            continue
        deliver_one(client, run_id, experiment_id, record, registered_model_name=registered)
        journal.mark("delivered", [record["seq"]])
        sent_files += record["kind"] in FILE_KINDS
    status = next(
        (r["status"] for r in slow if r["kind"] == "status"), state.status and state.status["status"]
    )
    return {
        "run_id": run_id,
        "params": counts["param"],
        "tags": counts["tag"],
        "metrics": counts["metric"],
        "artifacts": sent_files,
        "datasets": sum(r["kind"] == "dataset" for r in slow),
        "status": str(status or ""),
        "missing": len(files.missing),
        "missing_from": ", ".join(files.missing_folders()),
    }


#: Records that point at a file or folder on this machine.
FILE_KINDS = ("artifact", "model")


class LocalFiles:
    """Where a journal's files are now: at their recorded paths, or inside a run folder that moved.

    Args:
        recorded_in: the run folder when the records were written (the journal header's
            ``run_dir``; None in journals written before it was recorded).
        now_in: the folder the journal is read from now.
    """

    def __init__(self, *, recorded_in: str | None, now_in: Path) -> None:
        self.recorded_in = Path(recorded_in) if recorded_in else None
        self.now_in = now_in.resolve()
        self.missing: list[Path] = []

    def relocate(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with its path inside the run folder's new place, when it moved and is there."""
        if record["kind"] not in FILE_KINDS or self.recorded_in is None:
            return record
        path = Path(record["path"])
        if path.exists() or self.recorded_in == self.now_in:
            return record
        try:
            moved = self.now_in / path.relative_to(self.recorded_in)
        except ValueError:  # a file outside the run folder
            return record
        return {**record, "path": str(moved)} if moved.exists() else record

    def is_gone(self, record: dict[str, Any]) -> bool:
        """A file deleted from a folder that is still where it was recorded."""
        if record["kind"] not in FILE_KINDS:
            return False
        path = Path(record["path"])
        if path.exists() or not path.parent.is_dir():
            return False
        log.warning("%s no longer exists; it is not uploaded.", path)
        return True

    def is_missing(self, record: dict[str, Any]) -> bool:
        """A file whose folder is not there (moved or removed): noted in :attr:`missing`."""
        if record["kind"] not in FILE_KINDS or Path(record["path"]).exists():
            return False
        self.missing.append(Path(record["path"]))
        return True

    def missing_folders(self) -> list[str]:
        """The outermost folder that is gone above each missing file, each once."""
        folders: dict[str, None] = {}
        for path in self.missing:
            folder = path.parent
            while not folder.parent.exists() and folder.parent != folder:
                folder = folder.parent
            folders[str(folder)] = None
        return list(folders)


def _new_params_only(client: Any, run_id: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MLflow refuses to change a param of a run: keep the new ones, and note changes as tags."""
    logged = client.get_run(run_id).data.params
    out = []
    for r in records:
        if r["kind"] != "param" or r["key"] not in logged:
            out.append(r)
        elif logged[r["key"]] != r["value"]:
            out.append(
                {"kind": "tag", "key": f"resumed.{r['key']}"[:250], "value": r["value"], "seq": r["seq"]}
            )
    return out
