"""Deliver Ctrl-C only where it cannot break a database write, a config being composed or an import.

Python raises ``KeyboardInterrupt`` at whatever bytecode the main thread is running. Inside a
database driver's commit (Optuna's and MLflow's SQLAlchemy stores) that can leave a connection
checked out with its write transaction open: on SQLite every later write of the process then
fails with "database is locked" (measured: 10 to 23% of Ctrl-Cs landing in a loop of Optuna
writes on an idle machine, 56% on a busy one). A sweep then cannot mark its trial interrupted,
Optuna takes the storage error for an ordinary trial failure, and the sweep runs on. A ``KeyboardInterrupt``
raised in a finalizer (a weakref callback, ``__del__``) is lost: Python prints "Exception
ignored" and goes on.

:func:`safe_interrupts` installs a SIGINT handler that raises ``KeyboardInterrupt`` at once
unless the interrupted stack is inside ``UNSAFE_MODULES`` or a finalizer. There it marks the first
frame outside that code (the caller of the store) and raises there, at its next instruction,
once the store has returned; a second Ctrl-C meanwhile (a store that hangs) is raised at once.
:func:`interrupts_received` counts them, for callers that must know of a Ctrl-C even when a
library turned it into another error. The Trainer's own handler (``Preemption``) replaces this
one during ``fit`` and puts it back afterwards.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: Modules whose code must not be cut short by an exception: database stores, config, imports.
UNSAFE_MODULES = (
    "sqlalchemy",
    "sqlite3",
    "psycopg",
    "psycopg2",
    "alembic",
    "optuna.storages",
    "mlflow.store",
    # Composing a config: a KeyboardInterrupt inside OmegaConf's flag handling was measured to
    # come out as an AttributeError, which a sweep took for a failed trial.
    "omegaconf",
    "hydra",
    # An import cut short leaves half-initialised packages in sys.modules (seen: numpy._core
    # without _multiarray_umath, after a Ctrl-C in the first seconds of ``trainer train``).
    "importlib",
)

_received = 0
#: The frame a deferred Ctrl-C will be raised in, while one waits.
_waiting: FrameType | None = None


def _is_unsafe(frame: FrameType) -> bool:
    module = str(frame.f_globals.get("__name__", ""))
    if module == "weakref" or frame.f_code.co_name == "__del__":
        return True
    return any(module == name or module.startswith(name + ".") for name in UNSAFE_MODULES)


def safe_caller(frame: FrameType | None) -> FrameType | None:
    """The frame to interrupt instead of ``frame``: the caller of the outermost frame on the stack
    that runs ``UNSAFE_MODULES`` or finalizer code, or ``None`` when none does (interrupt at once)."""
    outermost = None
    while frame is not None:
        if _is_unsafe(frame):
            outermost = frame
        frame = frame.f_back
    return outermost.f_back if outermost is not None else None


def _no_new_frames(frame: FrameType, event: str, arg: Any) -> None:
    """Global trace function while an interrupt waits: traces no new frame (cheap)."""
    return None


def _interrupt_when_back(frame: FrameType) -> None:
    """Raise ``KeyboardInterrupt`` at ``frame``'s next instruction (or its next exception or return)."""
    global _waiting

    def trace(traced: FrameType, event: str, arg: Any) -> Any:
        _stop_waiting()
        raise KeyboardInterrupt

    sys.settrace(_no_new_frames)  # frame-level tracing runs only while a global one is set
    frame.f_trace = trace
    frame.f_trace_opcodes = True
    _waiting = frame


def _stop_waiting() -> None:
    global _waiting
    if _waiting is not None:
        _waiting.f_trace = None
        _waiting = None
    sys.settrace(None)


def interrupts_received() -> int:
    """How many Ctrl-Cs the handler of :func:`safe_interrupts` has received in this process.

    A library can still turn a ``KeyboardInterrupt`` into another error (a cleanup that fails on
    half-done state) or swallow it: comparing this count before and after a unit of work tells
    whether a Ctrl-C came during it, whatever came out.
    """
    return _received


def _handle(signum: int, frame: FrameType | None) -> None:
    global _received
    _received += 1
    if _waiting is not None:  # a second Ctrl-C while the first waits (a store that hangs): now
        _stop_waiting()
        raise KeyboardInterrupt
    caller = safe_caller(frame)
    if caller is None or sys.gettrace() is not None:
        raise KeyboardInterrupt  # nothing to protect, or a debugger/coverage tracer owns tracing
    _interrupt_when_back(caller)


@contextmanager
def safe_interrupts() -> Iterator[None]:
    """For the block, raise Ctrl-C's ``KeyboardInterrupt`` only outside the code of ``UNSAFE_MODULES``
    and finalizers.

    Does nothing off the main thread, or when SIGINT is not Python's default handler (ignored
    in a background job, or handled by the caller), so it never turns on what the caller turned off.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: Any = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
