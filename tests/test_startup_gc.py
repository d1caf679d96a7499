"""The start-up collector pause: off while a command starts, frozen and back on once its run is open.

Each check runs in its own Python process: the collector is process-wide state, and the test
process's own must stay as pytest set it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def run_python(code: str, cwd: Path | None = None) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_pause_then_settle_collects_freezes_and_turns_collection_back_on() -> None:
    state = run_python(
        """
        import gc, json, weakref
        from trainer import startup_gc
        startup_gc.pause()
        paused = {"enabled": gc.isenabled(), "is_paused": startup_gc.is_paused()}
        class Node: pass
        node = Node(); node.itself = node; ref = weakref.ref(node); del node  # only a collection frees it
        made = [[] for _ in range(100_000)]  # would set off many automatic collections
        alive_while_paused = ref() is not None
        startup_gc.settle()
        print(json.dumps({
            "paused": paused,
            "alive_while_paused": alive_while_paused,
            "freed_by_settle": ref() is None,
            "enabled": gc.isenabled(),
            "frozen": gc.get_freeze_count(),
            "is_paused": startup_gc.is_paused(),
        }))
        """
    )
    assert state["paused"] == {"enabled": False, "is_paused": True}
    assert state["alive_while_paused"] is True and state["freed_by_settle"] is True
    assert state["enabled"] is True and state["is_paused"] is False
    # At least the interpreter's own objects are frozen.
    assert isinstance(state["frozen"], int) and state["frozen"] > 1000


def test_settle_without_pause_changes_nothing_and_a_disabled_collector_stays_off() -> None:
    state = run_python(
        """
        import gc, json
        from trainer import startup_gc
        startup_gc.settle()  # a library user: nothing was paused
        untouched = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
        gc.disable()  # the caller turned it off itself
        startup_gc.pause()
        startup_gc.settle()
        print(json.dumps({"untouched": untouched, "enabled_after": gc.isenabled()}))
        """
    )
    assert state["untouched"] == {"enabled": True, "frozen": 0}
    assert state["enabled_after"] is False


def test_collection_comes_back_after_the_safety_net_delay_with_nothing_frozen() -> None:
    state = run_python(
        """
        import gc, json, time
        from trainer import startup_gc
        startup_gc.pause(resume_after=0.2)
        deadline = time.monotonic() + 30
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                          "is_paused": startup_gc.is_paused()}))
        """
    )
    assert state == {"enabled": True, "frozen": 0, "is_paused": False}


def test_a_process_forked_while_paused_collects() -> None:
    state = run_python(
        """
        import gc, json, os
        from trainer import startup_gc
        startup_gc.pause()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, b"1" if gc.isenabled() and not startup_gc.is_paused() else b"0")
            os._exit(0)
        os.waitpid(pid, 0)
        print(json.dumps({"child_collects": os.read(read, 1) == b"1", "parent_paused": not gc.isenabled()}))
        """
    )
    assert state == {"child_collects": True, "parent_paused": True}


def test_the_program_pauses_until_its_run_is_open_and_main_with_arguments_never_pauses(
    tmp_path: Path,
) -> None:
    """``trainer train`` as a program: collection off at the start, frozen and on once the run is
    open. ``main(argv)`` (code or a test calling it) and a command that opens no run (``--help``)
    leave the collector as they found it, or paused until the program exits."""
    probe = """
        import atexit, gc, json, sys
        from trainer import startup_gc
        from trainer.cli import main
        sys.argv = ["trainer", *{args!r}]
        status = main({argv})
        print(json.dumps({{"status": status, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count() > 0,
                           "is_paused": startup_gc.is_paused()}}))
    """
    train = [
        "train",
        "data=synthetic_classification",
        "data.source.n_samples=400",
        "trainer.max_epochs=1",
        "callbacks.progress=null",
        "logger=none",
        "trainer.accelerator=cpu",
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]
    program = run_python(probe.format(args=train, argv=""), cwd=tmp_path)
    assert program == {"status": 0, "enabled": True, "frozen": True, "is_paused": False}
    called = run_python(probe.format(args=[], argv=repr(train)), cwd=tmp_path)
    assert called == {"status": 0, "enabled": True, "frozen": False, "is_paused": False}
    help_only = run_python(probe.format(args=["train", "--help"], argv=""), cwd=tmp_path)
    assert help_only == {"status": 0, "enabled": False, "frozen": False, "is_paused": True}
