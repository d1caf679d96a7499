"""What the commands print to the console, and how console logging is set up for them."""

from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # trainer.cli imports this module before it guards against Ctrl-C: keep it light
    from omegaconf import DictConfig


def rank_zero() -> bool:
    """Whether this process speaks for the run: always, but under torchrun only rank 0 does.

    Read from torchrun's ``RANK`` here, before any torch import (``engine.distributed`` has the rest).
    """
    return os.environ.get("RANK", "0") == "0"


def setup_console_logging() -> None:
    """Warnings of every library on stderr; the ``trainer`` loggers' progress from rank 0 only."""
    from trainer.log_channels import console_filter

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(console_filter)  # lines meant for the run's log file only stay there
    # The other processes of a DDP run say only what goes wrong; rank 0 tells the run.
    logging.getLogger("trainer").setLevel(logging.INFO if rank_zero() else logging.WARNING)


def quiet_trials() -> None:
    """In a study the live line per trial is the output; each trial's own lines go to its train.log."""
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)


def print_config(cfg: DictConfig) -> None:
    """``--cfg``: the composed config as YAML, before interpolation."""
    from omegaconf import OmegaConf

    print(OmegaConf.to_yaml(cfg))


def split_table(metrics: dict[str, float]) -> list[tuple[str, str, str]]:
    """``val/x`` and ``test/x`` side by side: one row per metric name, ``""`` where a split lacks it."""
    splits = ("val", "test")
    names = sorted({k.split("/", 1)[1] for k in metrics if k.split("/", 1)[0] in splits and "/" in k})

    def cell(key: str) -> str:
        if key not in metrics:
            return ""
        return f"{metrics[key]:.4f}" if math.isfinite(metrics[key]) else "n/a"

    return [(name, cell(f"val/{name}"), cell(f"test/{name}")) for name in names]


def print_run_metrics(title: str, metrics: dict[str, float], *, caption: str = "") -> None:
    """The end of a run: validation and test metrics side by side under ``title``."""
    from rich.console import Console
    from rich.table import Table

    # Title and caption as lines of their own: rich would wrap them to the table's narrow width.
    print(title)
    table = Table()
    table.add_column("metric")
    table.add_column("validation", justify="right")
    table.add_column("test", justify="right")
    for row in split_table(metrics):
        table.add_row(*row)
    Console().print(table)
    if caption:
        print(caption)


def print_metrics(title: str, metrics: dict[str, float]) -> None:
    """A table of ``metrics`` sorted by name (``n/a`` for a value that is not finite)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in sorted(metrics):
        value = metrics[name]
        table.add_row(name, f"{value:.4f}" if math.isfinite(value) else "n/a")
    Console().print(table)
