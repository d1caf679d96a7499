"""``trainer upload runs/<run> [logger.tracking_uri=...]``: deliver what a run's journal holds."""

from __future__ import annotations

import sys

from trainer.commands.console import print_config as show_config
from trainer.config.compose import compose_config
from trainer.errors import UserError

USAGE = "trainer upload runs/<run> [logger.tracking_uri=...]"


def upload_command(args: list[str], *, print_config: bool = False) -> int:
    """Compose ``conf/upload.yaml`` and upload the run folder's undelivered records.

    Args:
        args: overrides of ``conf/upload.yaml`` (``run_dir=...``, ``logger.tracking_uri=...``);
            one argument without ``=`` is the run folder, a shorthand for ``run_dir=``.
        print_config: print the composed config and stop.

    Returns:
        0 once the records were delivered.

    Raises:
        UserError: no run folder, or two; anything :func:`trainer.tracking.upload.upload_journal` raises.
    """
    folders = [a for a in args if "=" not in a]
    overrides = [a for a in args if "=" in a]
    composed = compose_config(overrides, config_name="upload")
    cfg = composed.cfg
    if len(folders) + (cfg.run_dir is not None) > 1:
        raise UserError(f"trainer upload takes one run folder: {USAGE}")
    if folders:  # set after composing: a folder is a path, never parsed as an override's value
        cfg.run_dir = folders[0]
    if print_config:
        show_config(cfg)
        return 0
    if cfg.run_dir is None:
        raise UserError(f"trainer upload needs one run folder: {USAGE}")
    from trainer.tracking.upload import upload_journal

    summary = upload_journal(str(cfg.run_dir), tracking_uri=_text(cfg.logger.tracking_uri))
    print(
        f"Uploaded {summary['metrics']} metric points, {summary['params']} params, {summary['tags']} tags, "
        f"{summary['datasets']} dataset records and {summary['artifacts']} files or models to run "
        f"{summary['run_id']} (status {summary['status'] or 'unchanged'})."
    )
    if summary["missing"]:
        # Not the server's doing: the files are not on this disk. They stay in the journal.
        print(
            f"error: {summary['missing']} files or models were not uploaded: {summary['missing_from']} "
            f"no longer exists. Put the run folder back there (or copy those files in), then run "
            f"trainer upload {cfg.run_dir} again.",
            file=sys.stderr,
        )
        return 1
    return 0


def _text(value: object) -> str | None:
    return None if value is None else str(value)
