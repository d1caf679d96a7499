"""Which process holds a claim, and whether it is provably gone.

A sweep's first process sets the study's parent-run key, then makes the parent run and records
its id. A process that joins the study waits for that id so that processes started together
share one parent run. When the first process was killed in between, the rerun used to wait the
whole timeout (60 s) for an id that would never come. The claim now names its process: the host,
the PID namespace (containers on one host have their own) and the PID. A waiting process on the
same host and namespace can then tell that the owner is gone. Anywhere else, or where it cannot
tell, it keeps waiting as before.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def this_process() -> dict[str, Any]:
    """The calling process, as a JSON-able claim (a study user attribute)."""
    return {"host": socket.gethostname(), "pid_namespace": _pid_namespace(), "pid": os.getpid()}


def is_gone(owner: Any) -> bool:
    """True only when ``owner`` (a :func:`this_process` claim) names a process of this host and
    PID namespace that no longer exists. Any doubt (another host, an unreadable claim, a PID
    now used by another process) is False: the caller keeps waiting."""
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return False
    namespace = _pid_namespace()
    same_place = owner.get("host") == socket.gethostname() and owner.get("pid_namespace") == namespace
    if namespace is None or not same_place:
        return False
    try:
        os.kill(owner["pid"], 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False


def _pid_namespace() -> int | None:
    """The inode of this process's PID namespace (Linux); None where there is none to read."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
