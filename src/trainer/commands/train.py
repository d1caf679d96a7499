"""``trainer train [overrides]`` and ``trainer train -m [overrides]``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from trainer.commands.console import print_config as show_config
from trainer.commands.console import print_run_metrics, quiet_trials, rank_zero
from trainer.config.compose import compose_config
from trainer.errors import UserError

if TYPE_CHECKING:
    from trainer.train import RunResult


def train_command(overrides: list[str], *, print_config: bool = False) -> int:
    """Compose ``conf/train.yaml``, train (under torchrun when ``trainer.devices`` asks for it), report.

    Args:
        overrides: Hydra overrides (``model=mlp optimizer.lr=3e-4``).
        print_config: print the composed config and stop.

    Returns:
        The exit status: 0, or torchrun's when the run was launched on several processes.
    """
    composed = compose_config(overrides)
    if print_config:
        show_config(composed.cfg)
        return 0
    from trainer.config.validate import validate_config
    from trainer.engine.launcher import launch, processes_to_launch

    _check_tracking_store(composed.cfg)

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
    if rank_zero():
        tested = Path(result.best_checkpoint).name if result.best_checkpoint else "the last weights"
        epoch = "the best epoch" if result.best_metrics else "the last epoch"
        test = (
            f"; test: the checkpoint {tested}" if any(k.startswith("test/") for k in result.metrics) else ""
        )
        print_run_metrics(
            "Final metrics" + (f": {result.best}" if result.best else ""),
            {**result.metrics, **result.best_metrics},
            caption=f"validation: {epoch}{test}",
        )
        _print_where(result)
    return 0


def _check_tracking_store(cfg: DictConfig) -> None:
    """A tracking store that can never work (a database server refusing the login, a path that
    cannot be made) stops here, before the run folder is made; the logger checks again when built."""
    uri = OmegaConf.select(cfg, "logger.tracking_uri", default=None, throw_on_resolution_failure=False)
    if uri:
        from trainer.tracking.store_check import check_tracking_store

        check_tracking_store(str(uri))


def multirun_command(overrides: list[str], *, print_config: bool = False) -> int:
    """``trainer train -m a=1,2 b=x,y``: the grid as one study (see :mod:`trainer.sweep.command`)."""
    if print_config:
        raise UserError("--cfg prints one composed config; leave out -m to see it.")
    from trainer.sweep.command import multirun_command as run_grid

    quiet_trials()
    return run_grid(overrides)


def _print_where(result: RunResult) -> None:
    """Say how to test the run again, then where it was saved and how to look at it (the
    tracked run's lines): the run's address is the last line, as every command ends."""
    print()
    # The checkpoint the test metrics came from (the best one), not last.ckpt, which differs
    # whenever training went on past its best epoch.
    tested = result.best_checkpoint or result.last_checkpoint
    if tested:
        print(f"Test it again: trainer eval ckpt_path={tested}")
    print(*result.where, sep="\n")
