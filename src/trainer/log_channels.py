"""Which log lines go where: a run's log file gets every ``trainer`` line, the console all but
those meant for the file only. Kept free of imports: the CLI sets up its console with it before
it guards against Ctrl-C."""

from __future__ import annotations

import logging

#: ``log.info(..., extra=FILE_ONLY)``: a line for the run's log file that the console leaves out
#: (the command prints the same facts in its own form, e.g. the final metrics table).
FILE_ONLY = {"file_only": True}


def console_filter(record: logging.LogRecord) -> bool:
    """The console's filter: everything except :data:`FILE_ONLY` records."""
    return not getattr(record, "file_only", False)
