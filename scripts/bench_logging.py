"""Cost of per-step MLflow logging on the training loop, measured side by side in one process.

What it measures: the wall time of the same training run (the same MLP from the same initial
weights, the same synthetic binary table from scikit-learn's ``make_classification``, Adam,
batch size 64, the same per-epoch batch order from ``TensorBatches(seed, epoch)``), built as
``Trainer(accelerator='cpu', log_every_n_steps=1, callbacks=[], logger=...)`` (``--log-every``
changes the rate) with:

* ``baseline``: ``logger=None`` (the Trainer's ``NullLogger``);
* ``mlflow``: our ``MLflowLogger`` on a real sqlite store in a temporary directory, one
  ``train/loss_step`` point per optimizer step plus the per-epoch metrics. The timed region
  runs from ``logger.start()`` to the end of ``logger.finalize('FINISHED')``, which delivers
  everything still buffered: the user waits for that too;
* ``naive``: for contrast, a logger defined here that follows the same ``Logger`` protocol but
  calls ``MlflowClient.log_metric`` synchronously, once per metric, on the training thread.
  It costs tens of milliseconds per call, so it trains only ``--naive-steps`` steps; its ratio
  is taken against ``baseline-short``, a ``NullLogger`` run of exactly that length.

Both loggers write to one sqlite store, created with its experiment before anything is timed
(creating a store runs MLflow's schema migrations, which take seconds), and one short warm-up
run of each kind goes first. Timed runs are interleaved, the order rotating every repeat;
medians are reported. After each MLflow run the script reads the run back with
``MlflowClient.get_metric_history`` and exits 1 unless ``train/loss_step`` has exactly one
point per optimizer step (one per ``--log-every`` steps when that is raised); it also exits 1
if a logger changed the training (per-epoch losses must equal the baseline's).

The last line is ``logging_overhead=<r> naive_overhead=<r>``: median seconds with the logger
divided by the median baseline seconds of the same number of steps. The goal for
``logging_overhead`` is at most 1.05; it is printed, not asserted.

Torch runs with one intra-op thread by default (``--threads``): for a 32-wide MLP at batch 64
a second OpenMP thread only adds synchronisation, and on a 2-core machine that other jobs also
load it made steps ten times slower and the timings erratic. ``--threads 0`` keeps torch's
default. Under the table come each configuration's median seconds in the three parts of the
timed region (``start``: up to the end of ``logger.start()``, building the Trainer included;
``steps``: ``fit()``; ``finalize``: ``logger.finalize()``) and each logger's extra seconds in
each part, also as a share of its baseline's whole run: the shares add up to about the overhead
ratio minus 1 and say where the logging's cost goes. Wall times on a shared machine drift with
other jobs' load, so then come figures that load disturbs less: the median of per-repeat ratios
(each logger runs next to its baseline); CPU seconds of the training thread and of the whole
process; where the training thread's wall time went (Linux ``/proc/thread-self/schedstat``:
waiting for a core, i.e. load, versus blocked, i.e. the GIL, locks or disk I/O); and the CPU the
MLflowLogger's writer thread spent inside MLflow's ``log_batch``, per stored point and as a share
of the training thread's CPU: what the logging costs wherever no idle core absorbs it.

Run::

    .venv/bin/python scripts/bench_logging.py
    .venv/bin/python scripts/bench_logging.py --epochs 20 --repeats 5 --naive-steps 300
    .venv/bin/python scripts/bench_logging.py --log-every 50   # the project's default rate
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mlflow.tracking import MlflowClient

from bench_data import make_tables  # scripts/ is on sys.path when a script runs
from trainer.data.batches import TensorBatches
from trainer.engine import Trainer, TrainingModule
from trainer.models import MLP
from trainer.tasks.binary import BinaryObjective
from trainer.tracking.base import Logger
from trainer.tracking.mlflow_logger import MLflowLogger

EXPERIMENT = "bench-logging"
STEP_KEY = "train/loss_step"
LEARNING_RATE = 1e-3
LOSS_TOLERANCE = 1e-6
WARMUP_STEPS = 30
PHASES = ("start", "steps", "finalize")  # the timed region's three parts (RunResult.phases)


# ---------------------------------------------------------------------- the naive contender
class NaiveMLflowLogger(Logger):
    """The ``Logger`` interface done the obvious way: one synchronous store call per value."""

    def __init__(self, *, tracking_uri: str, experiment_name: str) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment_name = experiment_name
        self._run_id: str | None = None

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def start(
        self,
        *,
        run_name: str,
        run_dir: Path,
        resume_run_id: str | None = None,
        parent_run_id: str | None = None,
        resume_step: int | None = None,
        resume_from: Path | None = None,
    ) -> None:
        if resume_run_id:
            self._run_id = resume_run_id
            return
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        assert experiment is not None, "the experiment is created before timing"
        self._run_id = self.client.create_run(experiment.experiment_id, run_name=run_name).info.run_id

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.client.log_param(self._require_run(), key, value)

    def set_tags(self, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self._require_run(), key, value)

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        run_id = self._require_run()
        stamp = int(time.time() * 1000)
        for key, value in metrics.items():
            self.client.log_metric(run_id, key, float(value), timestamp=stamp, step=step, synchronous=True)

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self._require_run(), str(path), artifact_path)

    def finalize(self, status: str) -> None:
        if self._run_id is not None:
            self.client.set_terminated(self._run_id, status=status)

    def _require_run(self) -> str:
        assert self._run_id is not None, "start() first"
        return self._run_id


# ---------------------------------------------------------------------- shared setup
@dataclass(frozen=True)
class Setup:
    """Everything every run shares: the data, the initial weights, the run length, the store."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    hidden: tuple[int, ...]
    initial_state: dict[str, torch.Tensor]
    batch_size: int
    epochs: int
    naive_steps: int
    log_every: int
    seed: int
    workdir: Path

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_batches())

    @property
    def full_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.workdir}/bench.db"

    def train_batches(self) -> TensorBatches:
        return TensorBatches(
            self.x_train, self.y_train, batch_size=self.batch_size, shuffle=True, seed=self.seed
        )


class BenchDataModule:
    """The two loaders the Trainer asks for, over the shared tensors."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup

    def train_dataloader(self) -> TensorBatches:
        return self.setup.train_batches()

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(self.setup.x_val, self.setup.y_val, batch_size=self.setup.batch_size)


@dataclass(frozen=True)
class Config:
    """One contender: how to build its logger and how far it trains."""

    name: str
    make_logger: Callable[[Setup], Logger | None]
    stores: bool  # writes an MLflow run that is read back and checked afterwards
    short: bool  # trains ``naive_steps`` steps instead of the full run


@dataclass(frozen=True)
class RunResult:
    seconds: float
    cpu_seconds: float  # CPU time of the whole process (all threads) over the timed region
    thread_cpu: float  # CPU time of the training thread alone over the timed region
    runqueue: float  # seconds the training thread was ready but waited for a core (load), or NaN
    blocked: float  # seconds it neither ran nor waited for a core: the GIL, locks, I/O; or NaN
    send_cpu: float  # CPU time the writer thread spent in MLflow's log_batch (mlflow only)
    phases: tuple[float, float, float]  # wall seconds of (start, steps, finalize); they sum to seconds
    steps: int
    points: int  # metric points found in the store afterwards (0 without a store)
    train_losses: list[float]


class TimedMLflowLogger(MLflowLogger):
    """Our MLflowLogger, unchanged, plus the CPU time its writer thread spends delivering batches.

    ``thread_time`` runs in the writer thread around each delivery, so the figure is that
    thread's own CPU, which load from other processes disturbs much less than wall time.
    """

    send_cpu = 0.0

    def _send(self, records: list[Any]) -> None:
        begin = time.thread_time()
        try:
            super()._send(records)
        finally:
            self.send_cpu += time.thread_time() - begin


def make_mlflow_logger(setup: Setup) -> Logger:
    return TimedMLflowLogger(
        tracking_uri=setup.uri,
        experiment_name=EXPERIMENT,
        log_model=False,
        log_datasets=False,
        log_checkpoints=False,
    )


def make_naive_logger(setup: Setup) -> Logger:
    return NaiveMLflowLogger(tracking_uri=setup.uri, experiment_name=EXPERIMENT)


CONFIGS = (
    Config("baseline", lambda setup: None, stores=False, short=False),
    Config("mlflow", make_mlflow_logger, stores=True, short=False),
    Config("baseline-short", lambda setup: None, stores=False, short=True),
    Config("naive", make_naive_logger, stores=True, short=True),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the synthetic table")
    parser.add_argument("--features", type=int, default=16, help="columns of the synthetic table")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32], help="hidden layer widths")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the full-length runs")
    parser.add_argument(
        "--naive-steps", type=int, default=100, help="optimizer steps of the naive run and its baseline"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, interleaved")
    parser.add_argument(
        "--log-every", type=int, default=1, help="the Trainer's log_every_n_steps (1: a point every step)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (0: torch's default); see the module docstring",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="keep the stores in this folder")
    args = parser.parse_args(argv)
    sizes = (args.rows, args.features, args.batch_size, args.epochs, args.naive_steps, args.repeats)
    if min(*sizes, args.log_every) < 1:
        parser.error("sizes, epochs, steps and repeats must all be 1 or more")
    if args.threads < 0:
        parser.error("--threads must be 0 (torch's default) or more")
    return args


def make_setup(args: argparse.Namespace, workdir: Path) -> Setup:
    x_train, y_train, x_val, y_val = make_tables(args.rows, args.features, args.seed)
    torch.manual_seed(args.seed)
    model = MLP(in_features=args.features, out_features=1, hidden_sizes=args.hidden)
    initial = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return Setup(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        hidden=tuple(args.hidden),
        initial_state=initial,
        batch_size=args.batch_size,
        epochs=args.epochs,
        naive_steps=args.naive_steps,
        log_every=args.log_every,
        seed=args.seed,
        workdir=workdir,
    )


def prepare_stores(setup: Setup) -> None:
    """Create the sqlite store (schema migrations) and the experiment before anything is timed."""
    client = MlflowClient(tracking_uri=setup.uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT)


# ---------------------------------------------------------------------- one run
def schedstat() -> tuple[float, float]:
    """(seconds on a core, seconds waiting for a core) of the calling thread; NaN off Linux."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            on_cpu, waiting, _ = stat.read().split()
    except (OSError, ValueError):
        return math.nan, math.nan
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def count_points(client: MlflowClient, run_id: str) -> tuple[int, int]:
    """(points of ``train/loss_step``, points of all metrics) stored for the run."""
    keys = client.get_run(run_id).data.metrics.keys()
    counts = {key: len(client.get_metric_history(run_id, key)) for key in keys}
    return counts.get(STEP_KEY, 0), sum(counts.values())


def run_once(setup: Setup, config: Config, *, max_steps: int, tag: str) -> RunResult:
    """Train once with ``config``'s logger; time from ``start()`` to the end of ``finalize()``."""
    model = MLP(in_features=setup.x_train.shape[1], out_features=1, hidden_sizes=setup.hidden)
    model.load_state_dict(setup.initial_state)
    module = TrainingModule(
        model, BinaryObjective(), optimizer_factory=functools.partial(torch.optim.Adam, lr=LEARNING_RATE)
    )
    datamodule = BenchDataModule(setup)
    epochs = setup.epochs if max_steps < 0 else -(-max_steps // setup.steps_per_epoch)
    logger = config.make_logger(setup)
    run_dir = setup.workdir / "runs" / tag
    run_dir.mkdir(parents=True, exist_ok=True)
    gc.collect()
    start, cpu_start, thread_start = time.perf_counter(), time.process_time(), time.thread_time()
    sched_start = schedstat()
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        max_steps=max_steps,
        log_every_n_steps=setup.log_every,
        callbacks=[],
        logger=logger,
        default_root_dir=run_dir,
    )
    trainer.logger.start(run_name=tag, run_dir=run_dir)
    started = time.perf_counter()
    trainer.fit(module, datamodule)
    fitted = time.perf_counter()
    trainer.logger.finalize("FINISHED")
    finished, cpu_finished = time.perf_counter(), time.process_time()
    seconds, cpu_seconds = finished - start, cpu_finished - cpu_start
    phases = (started - start, fitted - started, finished - fitted)
    thread_cpu = time.thread_time() - thread_start
    on_cpu, runqueue = (end - begin for end, begin in zip(schedstat(), sched_start, strict=True))
    timing = (seconds, cpu_seconds, thread_cpu, runqueue, seconds - on_cpu - runqueue)
    send_cpu = getattr(logger, "send_cpu", 0.0)
    losses = [row["train/loss"] for row in trainer.history]
    if not config.stores:
        return RunResult(*timing, send_cpu, phases, trainer.global_step, 0, losses)
    run_id = trainer.logger.run_id
    if run_id is None:
        raise SystemExit(f"ERROR: {config.name} run {tag} has no MLflow run id.")
    step_points, points = count_points(MlflowClient(tracking_uri=setup.uri), run_id)
    if step_points != trainer.global_step // setup.log_every:
        raise SystemExit(
            f"ERROR: {config.name} run {tag} stored {step_points} {STEP_KEY!r} points for "
            f"{trainer.global_step} optimizer steps (log_every_n_steps={setup.log_every})."
        )
    return RunResult(*timing, send_cpu, phases, trainer.global_step, points, losses)


# ---------------------------------------------------------------------- measuring and reporting
def run_all(setup: Setup, repeats: int) -> dict[str, list[RunResult]]:
    """One short warm-up of each config, then ``repeats`` rounds.

    Each logger runs right next to its baseline (load from other processes drifts slowly),
    and which of the two goes first alternates every repeat.
    """
    for config in CONFIGS:
        run_once(setup, config, max_steps=WARMUP_STEPS, tag=f"warmup-{config.name}")
    results: dict[str, list[RunResult]] = {config.name: [] for config in CONFIGS}
    pairs = (CONFIGS[0:2], CONFIGS[2:4])
    for repeat in range(repeats):
        for pair in pairs:
            for config in pair if repeat % 2 == 0 else pair[::-1]:
                max_steps = setup.naive_steps if config.short else -1
                result = run_once(setup, config, max_steps=max_steps, tag=f"{config.name}-{repeat}")
                results[config.name].append(result)
    return results


def check_same_training(results: dict[str, list[RunResult]]) -> bool:
    """A logger must not change the training: every run's epoch losses equal its baseline's."""
    pairs = (("baseline", "mlflow"), ("baseline-short", "naive"))
    ok = True
    for base, other in pairs:
        reference = results[base][0].train_losses
        for result in results[base] + results[other]:
            same = len(result.train_losses) == len(reference) and all(
                abs(a - b) <= LOSS_TOLERANCE for a, b in zip(result.train_losses, reference, strict=True)
            )
            if not same:
                print(f"ERROR: a {other}/{base} run trained differently from the first {base} run.")
                ok = False
    return ok


def print_table(results: dict[str, list[RunResult]]) -> dict[str, float]:
    """The timing table and CPU breakdown; returns each logger's ratio against its baseline."""

    def median(name: str, field: str) -> float:
        return float(statistics.median(float(getattr(r, field)) for r in results[name]))

    baseline_of = {"mlflow": "baseline", "naive": "baseline-short"}
    ratios = {name: median(name, "seconds") / median(base, "seconds") for name, base in baseline_of.items()}
    print(
        f"{'configuration':15} {'median s':>9} {'min s':>7} {'max s':>7} {'steps':>6} {'points':>7} "
        f"{'ms/step':>8} {'ratio':>6}  vs"
    )
    for name, runs in results.items():
        seconds = [r.seconds for r in runs]
        ratio = f"{ratios[name]:6.3f}  {baseline_of[name]}" if name in ratios else f"{1:6.3f}"
        print(
            f"{name:15} {median(name, 'seconds'):9.3f} {min(seconds):7.3f} {max(seconds):7.3f} "
            f"{runs[0].steps:6d} {runs[0].points:7d} {1000 * median(name, 'seconds') / runs[0].steps:8.3f} "
            f"{ratio}"
        )
    for name, base in baseline_of.items():
        paired = statistics.median(
            r.seconds / b.seconds for r, b in zip(results[name], results[base], strict=True)
        )
        print(
            f"{name}: median of per-repeat ratios {paired:.3f}; median CPU s, training thread "
            f"{median(name, 'thread_cpu'):.3f} vs {median(base, 'thread_cpu'):.3f}, whole process "
            f"{median(name, 'cpu_seconds'):.3f} vs {median(base, 'cpu_seconds'):.3f}; training thread "
            f"waiting for a core {median(name, 'runqueue'):.3f} vs {median(base, 'runqueue'):.3f} s, "
            f"blocked (GIL, locks, I/O) {median(name, 'blocked'):.3f} vs {median(base, 'blocked'):.3f} s"
        )
    print_phases(results, baseline_of)
    send, points = median("mlflow", "send_cpu"), results["mlflow"][0].points
    print(
        f"mlflow writer thread: {send:.3f} s CPU in MLflow's log_batch ({1e6 * send / max(points, 1):.0f} us "
        f"per point), {100 * send / median('baseline', 'thread_cpu'):.1f}% of the baseline training "
        "thread's CPU: the cost to expect wherever no idle core absorbs it"
    )
    return ratios


def print_phases(results: dict[str, list[RunResult]], baseline_of: dict[str, str]) -> None:
    """Where each logger's extra wall time went: start, the training steps, finalize.

    ``start`` runs from the timer to the end of ``logger.start()`` (it includes building the
    Trainer, the same in every configuration), ``steps`` is ``fit()``, ``finalize`` is
    ``logger.finalize()``. Each difference is also given as a share of the baseline's median
    whole run, so the three shares add up to about the overhead ratio minus 1.
    """

    def phase(name: str, index: int) -> float:
        return float(statistics.median(r.phases[index] for r in results[name]))

    print(f"{'median s of':15} {'start':>8} {'steps':>8} {'finalize':>8}")
    for name in results:
        print(f"{name:15} " + " ".join(f"{phase(name, i):8.3f}" for i in range(len(PHASES))))
    for name, base in baseline_of.items():
        whole = statistics.median(r.seconds for r in results[base])
        extra = [phase(name, i) - phase(base, i) for i in range(len(PHASES))]
        parts = ", ".join(
            f"{label} {more:+.3f} s ({more / whole:+.1%})" for label, more in zip(PHASES, extra, strict=True)
        )
        print(f"{name} - {base}, share of the {base} run: {parts}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-logging-") as tmp:
        workdir = args.keep.resolve() if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        setup = make_setup(args, workdir)
        if setup.naive_steps > setup.full_steps:
            print(f"ERROR: --naive-steps {setup.naive_steps} exceeds the full run's {setup.full_steps}.")
            return 2
        print(
            f"torch={torch.__version__} threads={torch.get_num_threads()} rows={args.rows} "
            f"(train {len(setup.x_train)}) features={args.features} hidden={list(setup.hidden)} "
            f"batch={setup.batch_size} epochs={setup.epochs} steps/epoch={setup.steps_per_epoch} "
            f"repeats={args.repeats} log_every_n_steps={setup.log_every}"
        )
        prepare_stores(setup)
        results = run_all(setup, args.repeats)
        same = check_same_training(results)
        ratios = print_table(results)
    print(
        f"mlflow: one {STEP_KEY!r} point per {setup.log_every} optimizer step(s) plus the epoch metrics, "
        "timed from start() to the end of finalize('FINISHED'), against baseline (same steps)."
    )
    print(
        f"naive: MlflowClient.log_metric once per metric on the training thread, only "
        f"{setup.naive_steps} steps (--naive-steps); its ratio is against baseline-short, a "
        "NullLogger run of the same length."
    )
    print(f"logging_overhead={ratios['mlflow']:.3f} naive_overhead={ratios['naive']:.3f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
