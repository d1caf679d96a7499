"""``trainer sweep [overrides]``: an Optuna study whose live line per trial is the output."""

from __future__ import annotations

from trainer.commands.console import quiet_trials


def sweep(overrides: list[str], *, print_config: bool = False) -> int:
    """Run (or with ``print_config``, only show the config of) the study; see :mod:`trainer.sweep.command`."""
    from trainer.sweep.command import sweep_command

    if print_config:
        return sweep_command(overrides, print_config=True)
    quiet_trials()
    return sweep_command(overrides)
