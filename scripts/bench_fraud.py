"""Where the time of ``trainer fraud`` goes: wall and CPU seconds per approach and per phase.

The first step of issue 19 (the whole default study on ``fraud_oracle.csv`` in 5 minutes or
less on 2 cores): measure before changing anything. The study runs in this process through the
project's own API, as ``scripts/run_fraud_study.py`` runs it
(``compose_config(overrides, config_name="fraud")`` then ``trainer.fraud.study.run_study``),
with timing wrappers patched in from this script only (``src/`` is untouched):

* ``load``: ``trainer.fraud.study.load_study_data`` (read the table, split, preprocess).
* ``preflight``: ``trainer.fraud.study.check_before_training`` (builds what the approaches train
  and decides which apply; it also makes every sampler's resampled training rows, which are
  timed on their own by wrapping ``StudyData.resampled_rows`` and shown as
  ``preflight/resample:<name>``, a part of ``preflight``).
* one line per approach: ``trainer.fraud.study._run_child`` (the approach's child run: its
  MLflow run, waiting for its networks, scoring, threshold and metrics). The networks are fitted
  by the study's worker processes (``fraud.workers``, one per core by default), queued before
  the first approach runs, so an approach's wall time is the time the study waited for its
  members after the approaches before it, not the time of its fits; the members' epochs
  (early stopping ends most before ``trainer.max_epochs``) are shown beside it.
* ``explain``: ``trainer.fraud.study._explain`` (permutation importance of the best classifier on
  test AP, the autoencoder's error histogram and flagged rows).
* ``report``: the rest of ``run_study``, i.e. the round's total minus everything above (the study
  folder and the parent MLflow run, comparison tables, curves, the parent's artifacts).

Wall seconds are ``time.perf_counter``; CPU seconds are user + system of ``resource.getrusage``
for ``RUSAGE_SELF`` plus ``RUSAGE_CHILDREN`` (torch's intra-op threads and scikit-learn's OpenMP
threads count in ``RUSAGE_SELF``; the study's worker processes and joblib's, once reaped at the
end of the study, in ``RUSAGE_CHILDREN``: so an approach's CPU seconds are the study's process
alone, the round's total holds everything). CPU/wall above 1 means several cores were busy; the
header prints torch's thread count and the core count. Torch's thread count is left at its
default, as ``trainer fraud`` leaves it (``--threads N`` sets it).

Every round runs in a fresh temporary folder (``paths.runs_dir``) with a temporary sqlite
tracking store (``logger.tracking_uri=sqlite:///<tmp>/mlflow.db``), so nothing lands in the
project. Rounds run one after another in this process: the first pays imports and warm-up.

    .venv/bin/python scripts/bench_fraud.py --data fraud_claims --ensemble 1 --rounds 1
    .venv/bin/python scripts/bench_fraud.py --data fraud_oracle --ensemble 1 \\
        --approaches no_skill,plain,weighted,smote,smotenc,autoencoder,hgb,isolation_forest
    .venv/bin/python scripts/bench_fraud.py --split random --rounds 3 trainer.max_epochs=20
    .venv/bin/python scripts/bench_fraud.py --split time --seeds 0,1,2   # the closing note's runs

``--data`` is a ``conf/data`` file (``fraud_oracle`` reads ``../shared/data/fraud_oracle.csv``
relative to the working directory, so run from the project root); ``--approaches`` a comma list
(default: ``fraud.approaches`` of ``conf/fraud.yaml``); ``--ensemble`` networks per classifier
approach (default: the config's); ``--split time`` (the data file's own split) or ``random`` (the
stratified 60/20/20 split with seed 0 of ``scripts/run_fraud_study.py``); anything else is passed
through as an override. ``--seeds 0,1,2`` runs one round per seed (the random split's rows then
change with the seed too). Per round it prints one line per phase and approach (wall s, CPU s,
share of the round's wall time), then the medians over rounds with min-max and the test AP of each
approach, slowest first, the total, and a last line ``total_wall=<s> total_cpu=<s>
slowest=<approach>``."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The stratified random split of scripts/run_fraud_study.py; "time" keeps the data file's split.
SPLITS: dict[str, list[str]] = {
    "time": [],
    "random": ["data.split=stratified", "data.val_fraction=0.2", "data.test_fraction=0.2", "seed=0"],
}


PHASES = {"load", "preflight", "explain", "report"}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Span:
    wall: float = 0.0
    cpu: float = 0.0
    count: int = 0

    def add(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu
        self.count += 1


@dataclass
class Round:
    """The spans of one study run, by name, in the order they were first seen."""

    spans: dict[str, Span] = field(default_factory=dict)
    fits: dict[str, Span] = field(default_factory=dict)  # approach -> its network fits
    epochs: dict[str, list[int]] = field(default_factory=dict)  # approach -> epochs of each fit
    current: str | None = None  # the approach running now
    total: Span = field(default_factory=Span)
    aps: dict[str, float] = field(default_factory=dict)  # approach -> test AP
    goals: list[str] = field(default_factory=list)  # issue 19's goals on this round's table

    @contextlib.contextmanager
    def timed(self, name: str, into: dict[str, Span] | None = None) -> Iterator[None]:
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            target = self.spans if into is None else into
            target.setdefault(name, Span()).add(time.perf_counter() - wall, cpu_seconds() - cpu)


def wrap(owner: Any, attribute: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``owner.attribute`` by ``make(original)`` (this process only)."""
    setattr(owner, attribute, make(getattr(owner, attribute)))


def install_timers(state: dict[str, Round]) -> None:
    """Patch the study's phases with timers that record into ``state["round"]``."""
    import trainer.fraud.network_approaches as network_approaches
    import trainer.fraud.study as study
    import trainer.fraud.study_data as study_data

    def phase(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                with state["round"].timed(name):
                    return original(*args, **kwargs)

            return timed

        return make

    def child(original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(data: Any, name: str, **kwargs: Any) -> Any:
            now = state["round"]
            now.current = name
            try:
                with now.timed(name):
                    return original(data, name, **kwargs)
            finally:
                now.current = None
                span = now.spans[name]
                print(f"  ... {name}: wall {span.wall:.2f} s, cpu {span.cpu:.2f} s", flush=True)

        return timed

    def fits(original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            now = state["round"]
            with now.timed(now.current or "?", into=now.fits):
                jobs, fitted, params = original(*args, **kwargs)
            now.epochs.setdefault(now.current or "?", []).extend(int(f.epochs) for f in fitted)
            return jobs, fitted, params

        return timed

    def resample(original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(self: Any, sampler: str) -> Any:
            if sampler in self.resampled:  # made already: nothing to time
                return original(self, sampler)
            with state["round"].timed(f"preflight/resample:{sampler}"):
                return original(self, sampler)

        return timed

    wrap(study, "load_study_data", phase("load"))
    wrap(study, "check_before_training", phase("preflight"))
    wrap(study, "_explain", phase("explain"))
    wrap(study, "_run_child", child)
    wrap(network_approaches, "_fits", fits)
    wrap(study_data.StudyData, "resampled_rows", resample)


def run_round(overrides: list[str], state: dict[str, Round]) -> Round:
    from fraud_goals import goal_lines
    from trainer.config.compose import compose_config
    from trainer.fraud.study import run_study

    now = state["round"] = Round()
    with tempfile.TemporaryDirectory(prefix="bench_fraud_") as tmp:
        composed = compose_config(
            [
                *overrides,
                f"paths.runs_dir={tmp}/runs",
                f"logger.tracking_uri=sqlite:///{tmp}/mlflow.db",
                "callbacks.progress=null",
            ],
            config_name="fraud",
        )
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = run_study(composed, print_table=False)
        now.total.add(time.perf_counter() - wall, cpu_seconds() - cpu)
        now.aps = dict(zip(result.table["approach"], result.table["ap"], strict=True))
        now.goals = goal_lines(result.table)
    measured = [s for name, s in now.spans.items() if "/" not in name]
    rest = Span()
    rest.add(
        now.total.wall - sum(s.wall for s in measured),
        now.total.cpu - sum(s.cpu for s in measured),
    )
    now.spans["report"] = rest
    return now


def describe(name: str, span: Span, total: float, fits: Span | None, epochs: list[int] | None) -> str:
    line = (
        f"{name:<34} wall {span.wall:8.2f} s  cpu {span.cpu:8.2f} s  "
        f"cpu/wall {span.cpu / max(span.wall, 1e-9):4.2f}  share {100 * span.wall / max(total, 1e-9):5.1f}%"
    )
    if fits is not None and fits.count:
        line += f"  waited {fits.wall:.2f} s for its networks"
    if epochs:
        line += f", epochs {'/'.join(map(str, epochs))}"
    return line


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):8.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def summarize(rounds: list[Round]) -> None:
    names = list(dict.fromkeys(name for r in rounds for name in r.spans))
    median_wall = {n: statistics.median([r.spans[n].wall for r in rounds if n in r.spans]) for n in names}
    print(f"\nMedians over {len(rounds)} round(s), min-max in brackets, slowest first:")
    print(f"{'part':<34} {'wall s':>20} {'cpu s':>20} {'test AP':>24}")
    for name in sorted(names, key=median_wall.__getitem__, reverse=True):
        present = [r for r in rounds if name in r.spans]
        aps = [r.aps[name] for r in present if name in r.aps]
        print(
            f"{name:<34} {spread([r.spans[name].wall for r in present]):>20} "
            f"{spread([r.spans[name].cpu for r in present]):>20} "
            f"{spread(aps, digits=4) if aps else '':>24}"
        )
    total_wall = statistics.median(r.total.wall for r in rounds)
    total_cpu = statistics.median(r.total.cpu for r in rounds)
    walls, cpus = [r.total.wall for r in rounds], [r.total.cpu for r in rounds]
    print(f"{'total':<34} {spread(walls):>20} {spread(cpus):>20}")
    approaches = [n for n in names if n not in PHASES and "/" not in n]
    slowest = max(approaches, key=median_wall.__getitem__) if approaches else "-"
    print(f"total_wall={total_wall:.2f} total_cpu={total_cpu:.2f} slowest={slowest}")


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--data", default="fraud_oracle", help="a conf/data file (fraud_oracle, fraud_claims)"
    )
    parser.add_argument(
        "--approaches", default=None, help="comma list; default: the config's fraud.approaches"
    )
    parser.add_argument("--ensemble", type=int, default=None, help="networks per classifier approach")
    parser.add_argument(
        "--split", choices=sorted(SPLITS), default=None, help="time (the data file's) or random (60/20/20)"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--seeds", default=None, help="comma list: one round per seed (seed=<s>); default: the config's"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    unknown = [a for a in extra if a.startswith("-")]
    if unknown:
        raise SystemExit(f"unknown option {unknown[0]!r}; overrides are key=value")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [f"data={args.data}"]
    if args.approaches:
        overrides.append(f"fraud.approaches=[{args.approaches}]")
    if args.ensemble is not None:
        overrides.append(f"fraud.ensemble={args.ensemble}")
    if args.split:
        overrides += SPLITS[args.split]
    overrides += extra
    print(f"bench_fraud: {' '.join(overrides)}")
    print(f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, rounds {args.rounds}")
    state: dict[str, Round] = {}
    install_timers(state)
    rounds: list[Round] = []
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [None] * args.rounds
    for index, seed in enumerate(seeds):
        seeded = [o for o in overrides if not o.startswith("seed=")] + (
            [f"seed={seed}"] if seed is not None else []
        )
        now = run_round(seeded, state)
        rounds.append(now)
        print(
            f"\nround {index + 1}{f' (seed {seed})' if seed is not None else ''}: "
            f"total wall {now.total.wall:.2f} s, cpu {now.total.cpu:.2f} s"
        )
        for name, span in now.spans.items():
            print(describe(name, span, now.total.wall, now.fits.get(name), now.epochs.get(name)), flush=True)
        print("\n".join(now.goals), flush=True)
    summarize(rounds)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)  # ../shared/data/... in the data files is relative to the project root
    sys.exit(main())
