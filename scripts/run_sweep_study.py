"""The MLP sweep on digits: which settings give the lowest validation loss, and how much of the
budget pruning saves. Runs ``trainer sweep`` exactly as a user would, then rewrites the table and
copies the parent run's plots (PNG files, from the MLflow run's artifacts) into
``experiments/sweep_mlp/``.

    .venv/bin/python scripts/run_sweep_study.py                    # stores in a temporary folder
    .venv/bin/python scripts/run_sweep_study.py --keep sweep_store # keep optuna.db and mlflow.db

The command it runs, from the store folder:

    trainer sweep hparams_search=mlp data=digits trainer.max_epochs=15 sweep.n_trials=30 \
        sweep.study_name=sweep_mlp seed=0
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import markdown_table, replace_results

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "sweep_mlp"
COMMAND = [
    "hparams_search=mlp",
    "data=digits",
    "trainer.max_epochs=15",
    "sweep.n_trials=30",
    "sweep.study_name=sweep_mlp",
    "seed=0",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="run in this folder and keep its optuna.db and mlflow.db")
    args = parser.parse_args()
    folder = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="sweep-study-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trainer.cli", "sweep", *COMMAND], cwd=folder, check=True)
    seconds = time.perf_counter() - started
    report(folder, seconds)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


def report(folder: Path, seconds: float) -> None:
    """Write the README's table and copy the parent run's plots from MLflow."""
    study = optuna.load_study(study_name="sweep_mlp", storage=f"sqlite:///{folder}/optuna.db")
    trials = study.trials
    states = {s: sum(t.state.name == s for t in trials) for s in ("COMPLETE", "PRUNED", "FAIL")}
    epochs = sum(int(t.user_attrs.get("epochs", 0)) for t in trials)
    complete = sorted((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    rows = [
        [t.number, t.value, int(t.user_attrs.get("epochs", 0)), " ".join(t.user_attrs.get("overrides", []))]
        for t in complete[:8]
    ]
    client = MlflowClient(tracking_uri=f"sqlite:///{folder}/mlflow.db")
    parent = client.get_run(study.user_attrs["parent_run_id"])
    plots = OUT / "plots"
    shutil.rmtree(plots, ignore_errors=True)
    plots.mkdir(parents=True)
    refit_lines = _refit_lines(client, study)
    names = []
    for item in client.list_artifacts(parent.info.run_id, "plots"):
        local = client.download_artifacts(parent.info.run_id, item.path, str(folder / "download"))
        shutil.copy(local, plots / Path(item.path).name)
        names.append(Path(item.path).stem)
    block = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {__import__('os').cpu_count()} CPU cores "
            f"(shared with other work): {len(trials)} trials in {seconds / 60:.1f} min, "
            f"{states['COMPLETE']} complete, {states['PRUNED']} pruned, {states['FAIL']} failed; "
            f"{epochs} epochs trained of at most {len(trials) * 15} without pruning.",
            "",
            "Top trials by val/loss (lower is better):",
            "",
            markdown_table(["trial", "val/loss", "epochs", "overrides"], rows),
            "",
            "Reproduce the best: `" + parent.data.tags.get("best.command", "") + "`",
            "",
            *refit_lines,
            *[f"![{n}](plots/{n}.png)" for n in sorted(names)],
        ]
    )
    replace_results(OUT / "README.md", block)


def _refit_lines(client: MlflowClient, study: optuna.Study) -> list[str]:
    """The best trial's full refit (sweep.refit_best): its value, verdict and test metrics."""
    refit = study.user_attrs.get("refit") or {}
    if refit.get("state") != "COMPLETE":
        return [f"No refit of the best trial was recorded ({refit.get('error', 'refit off')}).", ""]
    run = client.get_run(refit["run_id"])
    tested = {k: v for k, v in sorted(run.data.metrics.items()) if k.startswith("test/")}
    verdict = "reproduced it" if refit.get("reproduced") else "did NOT reproduce it"
    return [
        f"The best trial {refit['trial']} was trained once more with the full record (refit): "
        f"val/loss={refit['value']:.4f}, which {verdict}. Its test split, touched only now: "
        + ", ".join(f"{k}={v:.4f}" for k, v in tested.items())
        + ".",
        "",
    ]


if __name__ == "__main__":
    main()
