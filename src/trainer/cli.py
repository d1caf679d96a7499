"""``trainer <command> [overrides]``: dispatch only; the work happens in train/evaluate."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Sequence

from trainer.errors import UserError

USAGE = """\
usage: trainer <command> [key=value ...] [--cfg]

commands:
  train     compose conf/train.yaml with the overrides, fit, test, save the run
  eval      test a saved checkpoint: trainer eval ckpt_path=runs/<run>/checkpoints/last.ckpt
  help      this message

options:
  --cfg     print the composed config and exit (train)
  -h        this message

examples:
  trainer train model=mlp optimizer=adam optimizer.lr=3e-4 trainer.max_epochs=20
  trainer train experiment=digits_mlp model.dropout=0.2
  trainer train data=csv data.source.path=claims.csv data.target=is_fraud
"""


def _help_text() -> str:
    from trainer.config.compose import conf_dir, group_options

    lines = [USAGE, f"config groups (from {conf_dir()}; pick one with group=option):"]
    for group, options in group_options().items():
        lines.append(f"  {group:<12} {', '.join(options)}")
    return "\n".join(lines)


def _setup_console_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("trainer").setLevel(logging.INFO)


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
    from omegaconf import OmegaConf

    from trainer.config.compose import compose_config
    from trainer.train import train

    composed = compose_config(overrides)
    if print_config:
        print(OmegaConf.to_yaml(composed.cfg))
        return 0
    result = train(composed)
    _print_metrics("Final metrics", result.metrics)
    print(f"\nRun saved to {result.run_dir}")
    print(f"  config: {result.run_dir / 'config.yaml'}   log: {result.run_dir / 'train.log'}")
    if result.best_checkpoint:
        print(f"  best checkpoint: {result.best_checkpoint}")
    print(
        f"Browse it: open {result.run_dir}/metrics.csv, or test it again with "
        f"`trainer eval ckpt_path={result.last_checkpoint or '<checkpoint>'}`"
    )
    return 0


def _eval(overrides: list[str]) -> int:
    from trainer.evaluate import evaluate

    ckpt = [o for o in overrides if o.startswith("ckpt_path=")]
    if not ckpt:
        raise UserError("trainer eval needs ckpt_path=<path to a .ckpt file>.")
    rest = [o for o in overrides if not o.startswith("ckpt_path=")]
    path = ckpt[-1].split("=", 1)[1]
    _print_metrics(f"Test metrics of {path}", evaluate(path, rest))
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
    unknown_flags = [a for a in rest if a.startswith("-") and "=" not in a]
    if unknown_flags:
        print(
            f"error: unknown option {unknown_flags[0]}; overrides are key=value. See trainer --help.",
            file=sys.stderr,
        )
        return 2
    _setup_console_logging()
    try:
        if command == "train":
            return _train(rest, print_config)
        if command == "eval":
            return _eval(rest)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted; the run folder keeps everything saved so far.", file=sys.stderr)
        return 130
    print(
        f"error: unknown command {command!r}; choose train or eval. See trainer --help.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
