"""Optimizers on one problem and budget: SGD, momentum, Nesterov, AdaGrad, RMSprop, Adam, Nadam.

    .venv/bin/python scripts/run_optimizers.py

Each uses its conf file's learning rate (conf/optimizer/*.yaml), the same MLP, data, seed and
epochs. Rewrites the table and convergence curves in ``experiments/optimizers/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import markdown_table, replace_results, run

OUT = Path(__file__).resolve().parents[1] / "experiments" / "optimizers"
COMMON = [
    "data=digits",
    "model=mlp",
    "model.hidden_sizes=[64,32]",
    "trainer.max_epochs=20",
    "trainer.accelerator=cpu",
    "callbacks.early_stopping=null",
    "callbacks.model_checkpoint=null",
    "callbacks.progress=null",
    "logger=none",
    "seed=0",
]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam"]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from omegaconf import OmegaConf

    from trainer.config import conf_dir

    rows, curves = [], {}
    for name in OPTIMIZERS:
        lr = OmegaConf.load(conf_dir() / "optimizer" / f"{name}.yaml")["lr"]
        metrics, history, seconds = run([*COMMON, f"optimizer={name}"])
        reached = next((h["epoch"] for h in history if h["val/accuracy"] >= 0.95), "-")
        rows.append(
            [
                name,
                lr,
                history[4]["train/loss"],
                history[-1]["train/loss"],
                history[-1]["val/loss"],
                metrics["test/accuracy"],
                reached,
                f"{seconds:.0f}",
            ]
        )
        curves[name] = history
        print(rows[-1], flush=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, history in curves.items():
        epochs = [h["epoch"] for h in history]
        axes[0].plot(epochs, [h["train/loss"] for h in history], label=name)
        axes[1].plot(epochs, [h["val/accuracy"] for h in history], label=name)
    axes[0].set(title="training loss", xlabel="epoch", yscale="log")
    axes[1].set(title="validation accuracy", xlabel="epoch", ylim=(0.5, 1.0))
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "curves.png", dpi=110)
    header = [
        "optimizer",
        "lr",
        "train loss @5",
        "train loss @20",
        "val loss @20",
        "test accuracy",
        "first epoch val acc >= 0.95",
        "seconds",
    ]
    replace_results(OUT / "README.md", markdown_table(header, rows) + "\n\n![curves](curves.png)")


if __name__ == "__main__":
    main()
