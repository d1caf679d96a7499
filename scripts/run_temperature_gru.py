"""GRU vs LSTM vs the naive "same as the last value" forecast on the synthetic temperature series.

    .venv/bin/python scripts/run_temperature_gru.py

``experiment=temperature_gru`` / ``temperature_lstm`` (48 h of history every 2nd hour, the
temperature 24 h after the last input, MAE loss, gradient norm clipped at 1), with the same seed
and budget. Rewrites the table and figure in ``experiments/temperature_gru/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import markdown_table, replace_results, run

OUT = Path(__file__).resolve().parents[1] / "experiments" / "temperature_gru"
COMMON = [
    "data.stride=3",
    "trainer.max_epochs=30",
    "trainer.accelerator=cpu",
    "callbacks.progress=null",
    "logger=none",
    "seed=0",
]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, curves, naive = [], {}, 0.0
    for experiment in ("temperature_gru", "temperature_lstm"):
        metrics, history, seconds = run([f"experiment={experiment}", *COMMON])
        naive = metrics["test/naive_mae"]
        best = min(history, key=lambda h: h["val/mae"])
        rows.append(
            [
                experiment.split("_")[1].upper(),
                metrics["test/mae"],
                naive,
                metrics["test/mae"] / naive,
                best["epoch"],
                len(history),
                f"{seconds:.0f}",
            ]
        )
        curves[rows[-1][0]] = history
        print(rows[-1], flush=True)
    rows.append(["naive (last value)", naive, naive, 1.0, "-", "-", "0"])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, history in curves.items():
        ax.plot(
            [h["epoch"] for h in history],
            [h["val/mae"] for h in history],
            marker="o",
            label=f"{label} (val)",
        )
    ax.axhline(naive, color="grey", linestyle="--", label="naive forecast (test)")
    ax.set(title="validation MAE (degrees)", xlabel="epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "val_mae.png", dpi=110)
    header = ["model", "test MAE (deg)", "naive MAE (deg)", "MAE / naive", "best epoch", "epochs", "seconds"]
    replace_results(OUT / "README.md", markdown_table(header, rows) + "\n\n![validation MAE](val_mae.png)")


if __name__ == "__main__":
    main()
