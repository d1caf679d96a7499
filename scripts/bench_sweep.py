"""Our in-process sweep with pruning against the Hydra Optuna plugin's way, side by side.

Both runs search the same space (conf/hparams_search/<space>.yaml) with the same trial budget,
data and epochs, and the same seeded TPE sampler:

(a) ours: ``trainer sweep`` in this process, as a user runs it with the defaults: every trial
    calls ``train()`` and reports each validation to Optuna, which prunes the trials that lag
    (median pruner); trials record lightly (validation metrics, params, config, log) and the best
    one is then trained again with the full record (test split, figures, packaged model).
(b) the Hydra plugin's way: a driver samples with Optuna and launches one ``trainer train
    <overrides>`` process per trial, with no pruning (each job only returns a number), reading
    the metric from the run folder's ``metrics.json``. Every trial records everything.

Both end with the same things a user keeps: every trial's metrics in MLflow and the best
configuration's full run with its packaged model. The refit's time and epochs count in (a).

Both record to MLflow (a sqlite store in a temporary folder), as a user's runs would. Besides
wall time it prints CPU seconds (this process for (a), the trial processes for (b)): other jobs'
load on a shared machine lengthens wall time but barely CPU time, so a wall ratio far from the
CPU ratio says the run was disturbed. The parent
run's plots are off in (a): the plugin makes none. Prints the wall-time ratio, trials per minute,
epochs trained and the best value each reached; the last line is
``speedup=<ratio> best_ours=<value> best_baseline=<value>``.

    python scripts/bench_sweep.py                      # digits, 20 trials, 15 epochs
    python scripts/bench_sweep.py --trials 10 --epochs 5
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

EPOCH_LINE = re.compile(r"epoch (\d+)/\d+")


def common_overrides(args: argparse.Namespace, folder: Path) -> list[str]:
    """What every trial of both runs gets."""
    return [
        f"data={args.data}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.accelerator=cpu",
        "callbacks.progress.refresh_every_n_steps=1000",
        f"seed={args.seed}",
        f"logger.tracking_uri=sqlite:///{folder}/mlflow.db",
        f"paths.runs_dir={folder}/runs",
    ]


def run_ours(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """(a): the in-process runner with pruning."""
    from trainer.sweep.config import load_sweep
    from trainer.sweep.stages import run_sweep

    overrides = [
        f"hparams_search={args.space}",
        f"sweep.n_trials={args.trials}",
        f"sweep.pruner={args.pruner}",
        "sweep.plots=false",
        f"sweep.seed={args.seed}",
        f"sweep.storage=sqlite:///{folder}/optuna.db",
        "sweep.study_name=bench",
        *common_overrides(args, folder),
    ]
    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    [result] = run_sweep(overrides, stream=io.StringIO())
    seconds, cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_SELF) - cpu
    metric = load_sweep(overrides)[0].metrics[0]  # after the timing: composing warms Hydra
    study = optuna.load_study(study_name="bench", storage=f"sqlite:///{folder}/optuna.db")
    return {
        "seconds": seconds,
        "cpu": cpu,
        "trials": len(study.trials),
        "pruned": result.counts["PRUNED"],
        "failed": result.counts["FAIL"],
        "epochs": sum(int(t.user_attrs.get("epochs", 0)) for t in study.trials)
        + (result.refit.epochs if result.refit else 0),
        "best": result.best_values[0] if result.best_values else math.nan,
        "refit": result.refit.lines(metric) if result.refit else ["no refit"],
    }


def run_baseline(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """(b): one ``trainer train`` process per trial, sampled by a driver, no pruning."""
    from trainer.sweep.config import load_sweep
    from trainer.sweep.sampler_factory import build_sampler

    settings, space, _ = load_sweep([f"hparams_search={args.space}", f"sweep.seed={args.seed}"])
    sampler = build_sampler("tpe", space=space, seed=args.seed)
    study = optuna.create_study(direction=settings.directions[0], sampler=sampler)
    metric = settings.metrics[0]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    epochs = failed = 0
    started, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    for number in range(args.trials):
        trial = study.ask()
        overrides = space.overrides(space.sample(trial))
        run_dir = folder / "baseline" / f"trial{number:03d}"
        command = [
            sys.executable,
            "-m",
            "trainer.cli",
            "train",
            *common_overrides(args, folder),
            *overrides,
            f"paths.run_dir={run_dir}",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        metrics_file = run_dir / "metrics.json"
        if done.returncode != 0 or not metrics_file.exists():
            failed += 1
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            print(f"  baseline trial {number} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
            continue
        value = float(json.loads(metrics_file.read_text())[metric])
        log = (run_dir / "train.log").read_text() if (run_dir / "train.log").exists() else ""
        epochs += max((int(m) for m in EPOCH_LINE.findall(log)), default=args.epochs)
        study.tell(trial, value)
    seconds, cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_CHILDREN) - cpu
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "trials": len(study.trials),
        "pruned": 0,
        "failed": failed,
        "epochs": epochs,
        "best": study.best_value if complete else math.nan,
    }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", default="mlp", help="conf/hparams_search/<space>.yaml")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--pruner", default="median")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(
        f"Sweep of {args.space} on {args.data}: {args.trials} trials x up to {args.epochs} epochs, "
        f"TPE seed {args.seed}; {os.cpu_count()} CPU cores.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        ours = run_ours(args, Path(tmp) / "ours")
        print(f"  ours done in {ours['seconds']:.1f} s", *ours["refit"], sep="\n  ", flush=True)
        base = run_baseline(args, Path(tmp) / "baseline")
        print(f"  baseline done in {base['seconds']:.1f} s", flush=True)
    rows = [("ours: in process, pruning", ours), ("Hydra-plugin way: a process per trial", base)]
    print(
        f"\n{'run':40} {'wall s':>8} {'CPU s':>8} {'trials/min':>10} {'epochs':>7} {'pruned':>7} "
        f"{'failed':>7} {'best':>9}"
    )
    for name, r in rows:
        per_minute = r["trials"] / r["seconds"] * 60
        print(
            f"{name:40} {r['seconds']:8.1f} {r['cpu']:8.1f} {per_minute:10.2f} {r['epochs']:7d} "
            f"{r['pruned']:7d} {r['failed']:7d} {r['best']:9.4f}"
        )
    speedup = base["seconds"] / ours["seconds"]
    print(f"\nwall-time ratio (baseline / ours): {speedup:.2f}x")
    print(f"CPU-time ratio (baseline / ours): {base['cpu'] / ours['cpu']:.2f}x")
    print(f"speedup={speedup:.2f} best_ours={ours['best']:.4f} best_baseline={base['best']:.4f}")


if __name__ == "__main__":
    main()
