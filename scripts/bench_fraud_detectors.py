"""How strong are the study's networks and its autoencoder against the references, table by table?

Runs ``trainer fraud`` (in this process, ``logger=none``, a temporary runs folder) on several
imbalanced tables, each with several seeds, and prints the test AP of every approach as the
median with min-max over seeds, then the issue-19 goals per table and seed:

* ``network>=ref``: the network the study picks (best validation AP, ties broken by validation
  loss) reaches the test AP of the strongest reference classifier (hgb, logistic) of that seed;
* ``ae>=iforest``: the autoencoder (selected without labels) reaches IsolationForest's test AP;
* ``ae>=median``: the autoencoder reaches the median test AP of the classic detectors
  (isolation_forest, lof, knn, pca).

Tables (none is named by an issue except fraud_oracle; all are built here, nothing is downloaded):

* ``oracle_time``: ../shared/data/fraud_oracle.csv, the data file's time split (read in place).
* ``oracle_random``: the same file, stratified 60/20/20 split seeded by the run's seed.
* ``cancer``: scikit-learn's breast cancer table, benign rows plus malignant ones subsampled to
  5% (30 numeric features).
* ``digits``: scikit-learn's digits, one digit subsampled to 3% as the rare class among the
  others (64 pixel features).
* ``planted``: 8 correlated Gaussian features; 2% of rows drawn from a wider, shifted Gaussian.
* ``shifted``: ``make_classification`` with 12 features and 3% positives (a classifier's table:
  the rare class is separable, not unusual).

    .venv/bin/python scripts/bench_fraud_detectors.py                       # every table, seeds 0,1,2
    .venv/bin/python scripts/bench_fraud_detectors.py --tables cancer,digits --seeds 0,1,2,3,4
    .venv/bin/python scripts/bench_fraud_detectors.py --approaches autoencoder,isolation_forest \\
        fraud.ensemble=1

Anything after the options is passed to every study as an override. The last line is
``network_ge_ref=<met>/<tried> ae_ge_iforest=<met>/<tried> ae_ge_median=<met>/<tried>``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT.parent / "shared" / "data" / "fraud_oracle.csv"
DEFAULT_APPROACHES = "plain,weighted,smote,autoencoder,hgb,logistic,isolation_forest,lof,knn,pca"


def _csv(frame: pd.DataFrame, folder: Path, name: str) -> list[str]:
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return ["data=csv", f"data.source.path={path}", "data.target=label", "data.task=binary"]


def _cancer(folder: Path) -> list[str]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rare = 1 - y  # malignant (0 in scikit-learn's coding) is the rare class here
    frame = x.assign(label=rare)
    normal, positive = frame[frame.label == 0], frame[frame.label == 1]
    keep = positive.sample(n=int(0.05 * len(normal) / 0.95), random_state=0)
    return _csv(pd.concat([normal, keep]).sample(frac=1.0, random_state=0), folder, "cancer")


def _digits(folder: Path) -> list[str]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True, as_frame=True)
    frame = x.assign(label=(y == 0).astype(int))
    normal, positive = frame[frame.label == 0], frame[frame.label == 1]
    keep = positive.sample(n=int(0.03 * len(normal) / 0.97), random_state=0)
    return _csv(pd.concat([normal, keep]).sample(frac=1.0, random_state=0), folder, "digits")


def _planted(folder: Path) -> list[str]:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(8, 8))
    normal = rng.normal(size=(6000, 8)) @ mixing
    odd = (rng.normal(size=(120, 8)) * 2.5 + 1.0) @ mixing
    frame = pd.DataFrame(np.vstack([normal, odd]), columns=[f"x{i}" for i in range(8)])
    frame["label"] = [0] * len(normal) + [1] * len(odd)
    return _csv(frame.sample(frac=1.0, random_state=0), folder, "planted")


def _shifted(folder: Path) -> list[str]:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=6000, n_features=12, n_informative=6, weights=[0.97], class_sep=1.0, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(12)]).assign(label=y)
    return _csv(frame, folder, "shifted")


RANDOM_SPLIT = ["data.split=stratified", "data.val_fraction=0.2", "data.test_fraction=0.2"]
TABLES: dict[str, Callable[[Path], list[str]]] = {
    "oracle_time": lambda _: ["data=fraud_oracle", f"data.source.path={ORACLE}"],
    "oracle_random": lambda _: ["data=fraud_oracle", f"data.source.path={ORACLE}", *RANDOM_SPLIT],
    "cancer": lambda folder: [*_cancer(folder), *RANDOM_SPLIT],
    "digits": lambda folder: [*_digits(folder), *RANDOM_SPLIT],
    "planted": lambda folder: [*_planted(folder), *RANDOM_SPLIT],
    "shifted": lambda folder: [*_shifted(folder), *RANDOM_SPLIT],
}


def run_table(
    data: list[str], seeds: list[int], approaches: str, extra: list[str], folder: Path
) -> pd.DataFrame:
    """Every seed's comparison table, with its seed and whether the study picked each row."""
    from trainer.config.compose import compose_config
    from trainer.fraud.selection import best_network
    from trainer.fraud.study import run_study

    tables = []
    for seed in seeds:
        overrides = [
            *data,
            f"seed={seed}",
            f"fraud.approaches=[{approaches}]",
            "logger=none",
            "callbacks.progress=null",
            f"paths.runs_dir={folder / 'runs'}",
            *extra,
        ]
        table = run_study(compose_config(overrides, config_name="fraud"), print_table=False).table
        pick = best_network(table)
        table = table.assign(seed=seed, picked=table["approach"] == (pick.name if pick else None))
        tables.append(table)
    return pd.concat(tables)


def goals(table: pd.DataFrame) -> dict[str, list[bool]]:
    """Per seed, whether each goal holds (a goal whose approaches did not run is left out)."""
    from fraud_goals import measure

    met: dict[str, list[bool]] = {"network>=ref": [], "ae>=iforest": [], "ae>=median": []}
    for _, rows in table.groupby("seed"):
        measured = measure(rows.drop(columns=["seed", "picked"]))
        for goal, result in (
            ("network>=ref", measured.network_beats_reference),
            ("ae>=iforest", measured.autoencoder_beats_iforest),
            ("ae>=median", measured.autoencoder_beats_median),
        ):
            if result is not None:
                met[goal].append(result)
    return met


def summary(name: str, table: pd.DataFrame) -> list[str]:
    lines = [f"== {name}: test AP, median (min-max) over seeds {sorted(set(table['seed']))}"]
    for approach, rows in table.groupby("approach", sort=False):
        aps = rows["ap"].to_numpy()
        picked = int(rows["picked"].sum())
        mark = f"  picked {picked}x" if picked else ""
        lines.append(f"  {approach:18s} {np.median(aps):.4f} ({aps.min():.4f}-{aps.max():.4f}){mark}")
    for goal, results in goals(table).items():
        if results:
            lines.append(f"  {goal}: {sum(results)}/{len(results)} seeds")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES), help=f"comma list of {', '.join(TABLES)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--approaches", default=DEFAULT_APPROACHES)
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING)
    seeds = [int(s) for s in args.seeds.split(",")]
    totals: dict[str, list[bool]] = {"network>=ref": [], "ae>=iforest": [], "ae>=median": []}
    with tempfile.TemporaryDirectory(prefix="bench_fraud_detectors_") as tmp:
        for name in args.tables.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            table = run_table(TABLES[name](folder), seeds, args.approaches, extra, folder)
            print("\n".join(summary(name, table)), flush=True)
            for goal, results in goals(table).items():
                totals[goal] += results
    print(" ".join(f"{goal.replace('>=', '_ge_')}={sum(r)}/{len(r)}" for goal, r in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
