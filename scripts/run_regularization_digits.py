"""Regularisation on digits: baseline vs L2 vs dropout vs batch norm vs early stopping.

    .venv/bin/python scripts/run_regularization_digits.py

The same over-sized MLP on scikit-learn's digits (a table of 64 pixels), half the rows held out,
the same budget; no checkpoint callback, so every setting is tested with its final weights
(early stopping restores its best ones). Rewrites the table and figure in
``experiments/regularization_digits/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import markdown_table, replace_results, run

OUT = Path(__file__).resolve().parents[1] / "experiments" / "regularization_digits"
COMMON = [
    "data=digits",
    "data.val_fraction=0.25",
    "data.test_fraction=0.25",
    "model=mlp",
    "model.hidden_sizes=[256,256]",
    "optimizer=adam",
    "optimizer.lr=0.001",
    "trainer.max_epochs=60",
    "trainer.accelerator=cpu",
    "callbacks.model_checkpoint=null",
    "callbacks.progress=null",
    "logger=none",
    "seed=0",
]
NO_STOP = ["callbacks.early_stopping=null"]
SETTINGS = {
    "baseline": NO_STOP,
    "L2 (1e-3)": [*NO_STOP, "regularization.l2=0.001"],
    "dropout 0.5": [*NO_STOP, "model.dropout=0.5"],
    "batch norm": [*NO_STOP, "model.batch_norm=before"],
    "early stopping (patience 5)": [
        "callbacks.early_stopping.monitor=val/loss",
        "callbacks.early_stopping.patience=5",
        "callbacks.early_stopping.restore_best_weights=true",
    ],
}


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, curves = [], {}
    for label, extra in SETTINGS.items():
        metrics, history, seconds = run([*COMMON, *extra])
        last = history[-1]
        rows.append(
            [
                label,
                last["train/loss"],
                last["val/loss"],
                last["val/loss"] - last["train/loss"],
                metrics["test/accuracy"],
                len(history),
                f"{seconds:.0f}",
            ]
        )
        curves[label] = history
        print(label, rows[-1], flush=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, history in curves.items():
        epochs = [h["epoch"] for h in history]
        axes[0].plot(epochs, [h["train/loss"] for h in history], label=label)
        axes[1].plot(epochs, [h["val/loss"] for h in history], label=label)
    for ax, title in zip(axes, ("training loss", "validation loss"), strict=True):
        ax.set(title=title, xlabel="epoch", yscale="log")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "curves.png", dpi=110)
    header = ["setting", "train loss", "val loss", "gap (val - train)", "test accuracy", "epochs", "seconds"]
    replace_results(OUT / "README.md", markdown_table(header, rows) + "\n\n![curves](curves.png)")


if __name__ == "__main__":
    main()
