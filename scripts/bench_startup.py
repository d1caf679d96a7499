"""What a short ``trainer`` command costs with and without the start-up collector pause.

Each contender is a fresh process running the same command in its own empty folder:

* ``paused``: the program as users run it (``python -m trainer.cli <command>``), which turns
  automatic garbage collection off while it starts and freezes the start's objects once its run
  is open (``trainer.startup_gc``);
* ``default``: the same ``main`` called with its arguments given (``main(argv)``), which leaves
  Python's collector as it is: what every command did before the pause.

The default command is a tracked one-epoch ``trainer train`` on the synthetic table (MLflow's
SQLite store, figures and the packaged model included): mostly start-up, as in a sweep's worker,
a DDP rank or a test. ``--args`` gives another. The contenders alternate within each round and
the order flips every round. Per process: CPU seconds (user + system, from ``wait4``), wall
seconds and peak memory. The last line is ``paused_vs_default_cpu=<median ratio>``.

    python scripts/bench_startup.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ARGS = [
    "train",
    "data=synthetic_classification",
    "trainer.max_epochs=1",
    "callbacks.progress=null",
    "trainer.accelerator=cpu",
]
PROGRAMS = {
    "paused": ["-m", "trainer.cli"],
    "default": ["-c", "import sys; from trainer.cli import main; sys.exit(main(sys.argv[1:]))"],
}


def run_once(mode: str, args: list[str], folder: Path) -> dict[str, float]:
    """Run the command once in ``folder``; its CPU seconds, wall seconds and peak memory (MiB)."""
    folder.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread: the CPU seconds are the work
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *PROGRAMS[mode], *args],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{mode} failed ({process.returncode}):\n{stderr.decode()[-3000:]}")
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--args", nargs="+", default=DEFAULT_ARGS, help="the trainer command and overrides")
    options = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in PROGRAMS}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        run_once("paused", options.args, Path(tmp) / "warm-up")  # .pyc files and page cache
        for index in range(options.rounds):
            order = list(PROGRAMS) if index % 2 == 0 else list(reversed(PROGRAMS))
            this_round = {mode: run_once(mode, options.args, Path(tmp) / f"{index}-{mode}") for mode in order}
            for mode, result in this_round.items():
                results[mode].append(result)
            ratios.append(this_round["paused"]["cpu"] / this_round["default"]["cpu"])
            print(
                f"round {index + 1}: "
                + "  ".join(
                    f"{mode} {r['cpu']:.2f} CPU s {r['wall']:.2f} wall s {r['mib']:.0f} MiB"
                    for mode, r in this_round.items()
                )
                + f"  ratio {ratios[-1]:.3f}",
                flush=True,
            )
    print(f"command: trainer {' '.join(options.args)}")
    for mode, runs in results.items():
        cpu = [r["cpu"] for r in runs]
        wall = [r["wall"] for r in runs]
        mib = [r["mib"] for r in runs]
        print(
            f"{mode:8s} CPU s median {statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f})  "
            f"wall s median {statistics.median(wall):.2f} ({min(wall):.2f}-{max(wall):.2f})  "
            f"peak MiB median {statistics.median(mib):.0f}"
        )
    print(
        f"paused_vs_default_cpu={statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
