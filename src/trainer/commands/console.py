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
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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
