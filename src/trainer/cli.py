"""``trainer <command> [overrides]``: dispatch only; the work happens in train/evaluate/upload."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from trainer.errors import UserError
from trainer.interrupts import safe_interrupts

if TYPE_CHECKING:
    from trainer.train import RunResult

MULTIRUN_FLAGS = ("-m", "--multirun")

USAGE = """\
usage: trainer <command> [key=value ...] [--cfg]

commands:
  train     compose conf/train.yaml with the overrides, fit, test, record the run
            (-m / --multirun with a=1,2 b=x,y: run that grid as one study)
  sweep     an Optuna study over conf/hparams_search/<name>.yaml: trainer sweep hparams_search=mlp
  fraud     compare imbalance approaches on one split: trainer fraud [data=fraud_oracle]
            [fraud.approaches=[weighted,smote,autoencoder]]
  gradcheck backprop vs central differences (float64) on the configured model; exit 1 on a bug
            trainer gradcheck [overrides] [gradcheck.max_coords=50 gradcheck.batch_size=16]
  lr-find   learning-rate range test; plot + MLflow; prints the optimizer.lr=... to use
            trainer lr-find [overrides] [lr_find.min_lr=1e-7 lr_find.max_lr=10 lr_find.num_steps=200]
  eval      test a saved checkpoint: trainer eval ckpt_path=runs/<run>/checkpoints/last.ckpt
            (split=val scores the validation split instead)
  upload    send what MLflow missed from a run's journal (a server that was down, a killed run):
            trainer upload runs/<run> [logger.tracking_uri=...]
  help      this message

options:
  --cfg     print the composed config and exit (train)
  -h        this message

examples:
  trainer train model=mlp optimizer=adam optimizer.lr=3e-4 trainer.max_epochs=20
  trainer train experiment=digits_mlp model.dropout=0.2
  trainer train data=csv data.source.path=claims.csv data.target=is_fraud
  trainer train logger.tracking_uri=http://127.0.0.1:5000 logger.experiment_name=claims
  trainer sweep hparams_search=mlp data=digits trainer.max_epochs=20 sweep.n_trials=50
  trainer train -m optimizer=adam,nadam optimizer.lr=1e-3,3e-4
"""


def _help_text() -> str:
    from trainer.config.compose import conf_dir, group_options

    lines = [USAGE, f"config groups (from {conf_dir()}; pick one with group=option):"]
    for group, options in group_options().items():
        lines.append(f"  {group:<12} {', '.join(options)}")
    return "\n".join(lines)


def _rank_zero() -> bool:
    """Whether this process speaks for the run: always, but under torchrun only rank 0 does.

    Read from torchrun's ``RANK`` here, before any torch import (``engine.distributed`` has the rest).
    """
    return os.environ.get("RANK", "0") == "0"


def _setup_console_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The other processes of a DDP run say only what goes wrong; rank 0 tells the run.
    logging.getLogger("trainer").setLevel(logging.INFO if _rank_zero() else logging.WARNING)


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in sorted(metrics):
        value = metrics[name]
        table.add_row(name, f"{value:.4f}" if math.isfinite(value) else "n/a")
    Console().print(table)


def _train(overrides: list[str], print_config: bool) -> int:
    """Compose, train, and print the final metrics and where the run went."""
    from omegaconf import OmegaConf

    from trainer.config.compose import compose_config

    composed = compose_config(overrides)
    if print_config:
        print(OmegaConf.to_yaml(composed.cfg))
        return 0
    from trainer.config.validate import validate_config
    from trainer.engine.launcher import launch, processes_to_launch

    # trainer.devices=N: this process starts N under torchrun, once the config is known to be good.
    processes = processes_to_launch(
        strategy=OmegaConf.select(composed.cfg, "trainer.strategy", default="auto"),
        devices=OmegaConf.select(composed.cfg, "trainer.devices", default="auto"),
        accelerator=OmegaConf.select(composed.cfg, "trainer.accelerator", default="auto"),
    )
    if processes:
        validate_config(composed.cfg)
        return launch(processes, ["train", *overrides])
    from trainer.train import train  # torch and friends load only once the config is good

    result = train(composed)
    if _rank_zero():
        _print_metrics("Final metrics", result.metrics)
        _print_where(result)
    return 0


def _print_where(result: RunResult) -> None:
    """Say where the run was saved and how to look at it."""
    print(f"\nRun saved to {result.run_dir}  (config.yaml, train.log, figures/, checkpoints/)")
    if result.last_checkpoint:
        print(f"  test it again: trainer eval ckpt_path={result.last_checkpoint}")
    for line in result.location:
        print(f"  {line}")


def _quiet_trials() -> None:
    """In a study the live line per trial is the output; each trial's own lines go to its train.log."""
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)


def _sweep(overrides: list[str]) -> int:
    from trainer.sweep.command import sweep_command

    _quiet_trials()
    return sweep_command(overrides)


def _multirun(overrides: list[str]) -> int:
    from trainer.sweep.command import multirun_command

    _quiet_trials()
    return multirun_command(overrides)


def _fraud(overrides: list[str], print_config: bool) -> int:
    from trainer.fraud.command import fraud_command

    return fraud_command([*overrides, *(["--cfg"] if print_config else [])])


def _gradcheck(overrides: list[str]) -> int:
    from trainer.diagnostics.command import gradcheck_command

    return gradcheck_command(overrides)


def _lr_find(overrides: list[str]) -> int:
    from trainer.diagnostics.command import lr_find_command

    return lr_find_command(overrides)


def _eval(overrides: list[str]) -> int:
    from trainer.evaluate import evaluate

    ckpt = [o for o in overrides if o.startswith("ckpt_path=")]
    if not ckpt:
        raise UserError("trainer eval needs ckpt_path=<path to a .ckpt file>.")
    splits = [o.split("=", 1)[1] for o in overrides if o.startswith("split=")]
    split = splits[-1] if splits else "test"
    if split not in ("test", "val"):
        raise UserError(
            f"split={split!r} is not a split trainer eval can score; use split=test or split=val."
        )
    rest = [o for o in overrides if not o.startswith(("ckpt_path=", "split="))]
    path = ckpt[-1].split("=", 1)[1]
    label = "Test" if split == "test" else "Validation"
    _print_metrics(f"{label} metrics of {path}", evaluate(path, rest, split=split))
    return 0


def _upload(args: list[str]) -> int:
    from trainer.tracking.upload import upload_journal

    uris = [a.split("=", 1)[1] for a in args if a.startswith("logger.tracking_uri=")]
    folders = [a for a in args if not a.startswith("logger.tracking_uri=")]
    if len(folders) != 1:
        raise UserError(
            "trainer upload needs one run folder: trainer upload runs/<run> [logger.tracking_uri=...]"
        )
    summary = upload_journal(folders[0], tracking_uri=uris[-1] if uris else None)
    print(
        f"Uploaded {summary['metrics']} metric points, {summary['params']} params, {summary['tags']} tags, "
        f"{summary['datasets']} dataset records and {summary['artifacts']} files or models to run "
        f"{summary['run_id']} (status {summary['status'] or 'unchanged'})."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trainer`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_help_text())
        return 0
    command, rest = args[0], args[1:]
    if "-h" in rest or "--help" in rest:
        print(_help_text())
        return 0
    print_config = "--cfg" in rest
    rest = [a for a in rest if a != "--cfg"]
    multirun = command == "train" and any(a in MULTIRUN_FLAGS for a in rest)
    rest = [a for a in rest if a not in MULTIRUN_FLAGS]
    unknown_flags = [a for a in rest if a.startswith("-") and "=" not in a]
    if unknown_flags:
        print(
            f"error: unknown option {unknown_flags[0]}; overrides are key=value. See trainer --help.",
            file=sys.stderr,
        )
        return 2
    _setup_console_logging()
    commands = {
        "train": lambda: _multirun(rest) if multirun else _train(rest, print_config),
        "sweep": lambda: _sweep(rest),
        "fraud": lambda: _fraud(rest, print_config),
        "gradcheck": lambda: _gradcheck(rest),
        "lr-find": lambda: _lr_find(rest),
        "eval": lambda: _eval(rest),
        "upload": lambda: _upload(rest),
    }
    if command not in commands:
        print(
            f"error: unknown command {command!r}; choose one of {', '.join(commands)}. See trainer --help.",
            file=sys.stderr,
        )
        return 2
    try:
        with safe_interrupts():  # a Ctrl-C never cuts a database write short (interrupts.py)
            return commands[command]()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # SIGTERM or a first Ctrl-C during a fit: a checkpoint was saved at a step boundary.
        checkpoint = getattr(exc, "checkpoint", None)
        if checkpoint is not None and _rank_zero():  # rank 0 says it for all processes of a DDP run
            print(f"{exc}\nResume: trainer train <same overrides> ckpt_path={checkpoint}", file=sys.stderr)
        elif _rank_zero():
            print("Interrupted; the run folder keeps everything saved so far.", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))  # 128 + the signal: 143 for SIGTERM, 130 for Ctrl-C


if __name__ == "__main__":
    raise SystemExit(main())
