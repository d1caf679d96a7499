"""The health callback's view of initialisation: sigmoid + N(0, 1) vs ReLU + He vs SELU + LeCun.

    .venv/bin/python scripts/run_initialization_study.py [extra overrides ...]

Each setting trains the same deep MLP (10 hidden layers of 64) on scikit-learn's digits with
plain SGD for the same budget, with ``callbacks=diagnostics`` (the default callbacks plus
``HealthMonitor``). The table and the figure in ``experiments/initialization/`` are rewritten
from the measurements: the block between the README's result markers is replaced.

Settings are the config a user would pass to ``trainer train`` (printed in the README), except
``sigmoid + normal(0, 1)``: ``model.init`` has no plain N(0, 1) option (it is the classic
*mistake*, not a recommended scheme), so the script draws those weights itself after building.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "initialization"
README = OUT / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

COMMON = [
    "data=digits",
    "model=mlp",
    "model.hidden_sizes=[64,64,64,64,64,64,64,64,64,64]",
    "optimizer=sgd",
    "optimizer.lr=0.05",
    "trainer.max_epochs=10",
    "trainer.accelerator=cpu",
    "callbacks=diagnostics",
    "callbacks.early_stopping=null",
    "callbacks.progress=null",
    "logger=none",
    "seed=0",
]
#: label -> (overrides, draw the hidden weights from N(0, 1) after building)
SETTINGS: dict[str, tuple[list[str], bool]] = {
    "sigmoid + normal(0, 1)": (["model.activation=sigmoid", "model.init=default"], True),
    "sigmoid + PyTorch default": (["model.activation=sigmoid", "model.init=default"], False),
    "sigmoid + Glorot": (["model.activation=sigmoid", "model.init=glorot_normal"], False),
    "ReLU + He": (["model.activation=relu", "model.init=he_normal"], False),
    "SELU + LeCun": (["model.activation=selu", "model.init=lecun_normal"], False),
}


def run_setting(overrides: list[str], normal_init: bool, runs_dir: Path) -> dict[str, object]:
    """Train one setting; return its health history, findings and final validation accuracy."""
    import torch

    from trainer.build import build_callbacks, build_datamodule, build_logger, build_module, build_trainer
    from trainer.config.compose import compose_config
    from trainer.config.validate import validate_config
    from trainer.engine.callbacks import HealthMonitor
    from trainer.engine.seed import seed_everything

    cfg = validate_config(compose_config([*overrides, f"paths.runs_dir={runs_dir}"]).cfg)
    seed_everything(cfg.seed)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
    if normal_init:
        with torch.no_grad():
            for layer in module.model.modules():
                if isinstance(layer, torch.nn.Linear):
                    layer.weight.normal_(0.0, 1.0)  # Glorot & Bengio's starting point
                    layer.bias.zero_()
    trainer = build_trainer(cfg, run_dir=runs_dir, callbacks=build_callbacks(cfg), logger=build_logger(cfg))
    trainer.fit(module, datamodule)
    health = next(cb for cb in trainer.callbacks if isinstance(cb, HealthMonitor))
    return {
        "history": health.history,
        "flags": sorted(health.flags),
        "val_accuracy": trainer.callback_metrics.get("val/accuracy", float("nan")),
    }


def summarise(row: dict[str, float]) -> dict[str, float]:
    """One sampled epoch -> the numbers of the table."""
    grads = [v for k, v in row.items() if k.startswith("grad_norm/")]
    stds = [v for k, v in row.items() if k.startswith("std/")]
    saturated = [v for k, v in row.items() if k.startswith("saturated/")]
    dead = [v for k, v in row.items() if k.startswith("dead/")]
    return {
        "grad_ratio": grads[0] / grads[-1] if grads[-1] > 0 else float("nan"),
        "std_first": stds[0] if stds else float("nan"),
        "std_last": stds[-1] if stds else float("nan"),
        "saturated": mean(saturated) if saturated else float("nan"),
        "dead": mean(dead) if dead else float("nan"),
    }


def _fmt(value: float, spec: str = ".2f") -> str:
    return "n/a" if value != value else format(value, spec)  # NaN is the only value unequal to itself


def table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| setting | grad norm first/last layer (epoch 1) | activation std, layer 1 -> 10 (epoch 1) "
        "| saturated (sigmoid) | dead (ReLU) | flags | val accuracy after 10 epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, result in results.items():
        history = result["history"]
        assert isinstance(history, list)
        first = summarise(history[0])
        flags = ", ".join(result["flags"]) or "none"  # type: ignore[arg-type]
        lines.append(
            f"| {label} | {_fmt(first['grad_ratio'], '.2g')} | {_fmt(first['std_first'])} -> "
            f"{_fmt(first['std_last'])} | {_fmt(first['saturated'], '.0%')} | {_fmt(first['dead'], '.0%')} "
            f"| {flags} | {_fmt(float(result['val_accuracy']), '.3f')} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def figure(results: dict[str, dict[str, object]], path: Path) -> Path:
    from trainer.plots import plt

    fig, (grads_ax, std_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    for label, result in results.items():
        row = result["history"][0]  # type: ignore[index]
        grads = [v for k, v in row.items() if k.startswith("grad_norm/")]
        stds = [v for k, v in row.items() if k.startswith("std/")]
        grads_ax.plot(range(1, len(grads) + 1), grads, marker="o", label=label)
        std_ax.plot(range(1, len(stds) + 1), stds, marker="o", label=label)
    grads_ax.set(
        yscale="log",
        xlabel="weighted layer (input -> output)",
        ylabel="gradient norm",
        title="Epoch 1 gradients",
    )
    std_ax.set(
        xlabel="activation layer (input -> output)", ylabel="std of outputs", title="Epoch 1 activations"
    )
    for ax in (grads_ax, std_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _rounded(value: object) -> object:
    """Four significant digits: the numbers stay readable and the file small."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main(extra: list[str]) -> int:
    started = time.monotonic()
    results = {}
    with tempfile.TemporaryDirectory() as runs:
        for label, (overrides, normal_init) in SETTINGS.items():
            print(f"{label} ...", flush=True)
            results[label] = run_setting([*COMMON, *overrides, *extra], normal_init, Path(runs))
    (OUT / "results.json").write_text(json.dumps(_rounded(results), indent=1, sort_keys=True))
    figure(results, OUT / "health_by_layer.png")
    minutes = (time.monotonic() - started) / 60
    block = "\n".join(
        [
            START,
            f"Measured by `scripts/run_initialization_study.py` ({minutes:.1f} min on 2 shared CPU cores).",
            "",
            table(results),
            "",
            "![gradient norm and activation std by layer, epoch 1](health_by_layer.png)",
            END,
        ]
    )
    text = README.read_text()
    README.write_text(re.sub(f"{re.escape(START)}.*{re.escape(END)}", lambda _: block, text, flags=re.S))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
