"""Send this process Ctrl-C at random moments while it writes to an Optuna SQLite storage.

Run as a script by ``test_interrupts.py``: ``python interrupt_storm.py <folder> <n> <safe|plain>``.
Prints one JSON object: how many interrupts were caught with the storage still writable after
them ("ok"), caught with the storage broken ("broken"), or never delivered ("lost").
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from contextlib import nullcontext

import optuna

from trainer.interrupts import safe_interrupts


def one_interrupt(folder: str, index: int) -> str:
    study = optuna.create_study(storage=f"sqlite:///{folder}/storm{index}.db")
    trial = study.ask()
    threading.Timer(random.uniform(0.05, 0.3), os.kill, args=(os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    try:
        step = 0
        while time.monotonic() - started < 3:  # writes back to back: most of the time is in the store
            trial.set_user_attr(f"k{step % 5}", step)
            trial.suggest_float(f"x{step % 3}", 0, 1)
            step += 1
    except KeyboardInterrupt:
        pass
    else:
        return "lost"
    try:
        trial.set_user_attr("interrupted", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    except Exception:
        return "broken"
    return "ok"


def main() -> None:
    folder, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    counts = {"ok": 0, "broken": 0, "lost": 0}
    with safe_interrupts() if mode == "safe" else nullcontext():
        for index in range(n):
            counts[one_interrupt(folder, index)] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
