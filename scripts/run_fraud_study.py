"""Run the fraud study on the real claims file for both splits; refresh its experiment README.

The README is experiments/fraud_car_claims/README.md:

    .venv/bin/python scripts/run_fraud_study.py [--split time|random] [extra overrides ...]

Each split runs `trainer fraud data=fraud_oracle ...` in this process (MLflow parent + children
in ./mlflow.db, folders under runs/), then the measured tables replace the block between the
README's result markers. Goals are checked in the same run and printed as ratios. With
``--split time`` (or ``random``) only that split runs, and only its section is replaced.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "experiments" / "fraud_car_claims" / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
SPLITS = {
    "time (train 1994, validate 1995, test 1996)": [],
    "stratified random 60/20/20, seed 0": [
        "data.split=stratified",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "seed=0",
    ],
}
COLUMNS = ["approach", "ap", "roc_auc", "precision", "recall", "f1", "threshold", "precision_at_k", "val_ap"]


def main(argv: list[str]) -> int:
    from fraud_goals import goal_lines
    from trainer.config.compose import compose_config
    from trainer.fraud.report import to_markdown
    from trainer.fraud.study import run_study

    chosen, extra = choose_splits(argv)
    sections = previous_sections()
    for title, overrides in SPLITS.items():
        if title not in chosen:
            continue
        started = time.monotonic()
        composed = compose_config(
            ["data=fraud_oracle", "callbacks.progress=null", *overrides, *extra], config_name="fraud"
        )
        result = run_study(composed)
        minutes = (time.monotonic() - started) / 60
        lines = [
            f"### Split: {title}",
            "",
            f"Command: `{' '.join(['trainer fraud data=fraud_oracle', *overrides, *extra])}`",
            f"({minutes:.1f} min on 2 CPU cores; study folder `{result.run_dir.name}`)",
            "",
            to_markdown(result.table, columns=[c for c in COLUMNS if c in result.table.columns]),
            *goal_lines(result.table),
            "",
        ]
        sections[title] = "\n".join(line for line in lines if line is not None)
    text = README.read_text()
    block = f"{START}\n" + "\n".join(sections[title] for title in SPLITS if title in sections) + f"\n{END}"
    README.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
    print(f"Updated {README}")
    return 0


def choose_splits(argv: list[str]) -> tuple[list[str], list[str]]:
    """The split titles to run (``--split time|random``, else both) and the remaining overrides."""
    time_title, random_title = SPLITS
    names = {"time": time_title, "random": random_title}
    picked = [arg.split("=", 1)[1] for arg in argv if arg.startswith("--split=")]
    if "--split" in argv:
        at = argv.index("--split")
        picked.append(argv[at + 1] if at + 1 < len(argv) else "")
        argv = argv[:at] + argv[at + 2 :]
    unknown = [name for name in picked if name not in names]
    if unknown:
        raise SystemExit(f"--split {unknown[0]!r} is not known; choose time or random.")
    extra = [arg for arg in argv if not arg.startswith("--split=")]
    return ([names[name] for name in picked] or list(SPLITS)), extra


def previous_sections() -> dict[str, str]:
    """The README's current result sections by split title, so one split can be redone alone."""
    text = README.read_text()
    match = re.search(re.escape(START) + "\n(.*?)\n?" + re.escape(END), text, flags=re.S)
    if match is None:
        return {}
    sections: dict[str, str] = {}
    for part in re.split(r"(?m)^(?=### Split: )", match.group(1)):
        header = part.split("\n", 1)[0].removeprefix("### Split: ")
        if header in SPLITS:
            sections[header] = part.rstrip("\n") + "\n"
    return sections


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
