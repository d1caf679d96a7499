"""No cyclic garbage collection while a ``trainer`` command starts; what the start made, frozen.

A command imports torch, MLflow, scikit-learn, Hydra and what they need: about a million objects
that live as long as the process. While they are being made, Python's collector runs full
collections again and again, each one walking every tracked object, though none of them is
garbage. That was a fifth of the CPU of a short ``trainer train`` (scripts/bench_startup.py
measures it). So the ``trainer`` program turns automatic collection off as it starts
(:func:`pause`). Once the command's run is open (:func:`settle`, called by the tracked-run
routine), it collects once, freezes what is alive (``gc.freeze``: later collections skip those
objects; they are still freed when nothing refers to them) and turns collection back on, so the
cycles training makes are collected as usual.

Safety nets: a command that never opens a run gets collection back after ``RESUME_AFTER``
seconds, and a process forked while it is off (a worker pool) gets it back at once. Only the
program pauses: code that imports the package and calls ``Trainer.fit`` keeps its own settings.
"""

from __future__ import annotations

import gc
import os
import threading

#: Seconds after which collection comes back even if no run was opened (a long command of its own).
RESUME_AFTER = 30.0

_lock = threading.Lock()
_timer: threading.Timer | None = None  # set while paused


def pause(resume_after: float = RESUME_AFTER) -> None:
    """Turn automatic collection off until :func:`settle` (or ``resume_after`` seconds pass).

    Does nothing when collection is already off: whoever turned it off keeps it off.
    """
    global _timer
    with _lock:
        if _timer is not None or not gc.isenabled():
            return
        gc.disable()
        _timer = threading.Timer(resume_after, _resume)
        _timer.daemon = True
        _timer.start()


def settle() -> None:
    """Collect once, freeze every object alive, and turn collection back on (only if paused).

    Call it on the main thread once the command's heavy parts exist: the collection may run
    finalizers, which must not run on another thread (a SQLite connection refuses that).
    """
    if not _take_timer():
        return
    gc.collect()
    gc.freeze()
    gc.enable()


def is_paused() -> bool:
    """Whether collection is off because of :func:`pause`."""
    return _timer is not None


def _take_timer() -> bool:
    global _timer
    with _lock:
        timer, _timer = _timer, None
    if timer is None:
        return False
    timer.cancel()
    return True


def _resume() -> None:
    """The safety net (timer thread, or a forked child): collection back on, nothing frozen."""
    if _take_timer():
        gc.enable()


def _resume_in_child() -> None:
    global _timer
    # The timer thread did not survive the fork: the child's copy of it never fires.
    if _timer is not None:
        _timer = None
        gc.enable()


os.register_at_fork(after_in_child=_resume_in_child)
