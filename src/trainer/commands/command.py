"""One entry of the CLI's table: a command's name, its primary config, its summary and function."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

#: ``function(overrides, print_config=...) -> exit status``: what every command's entry is.
CommandFunction = Callable[..., int]


@dataclass(frozen=True)
class Command:
    """A ``trainer`` subcommand.

    Attributes:
        name: what the user types (``lr-find``).
        config_name: its primary config, ``conf/<config_name>.yaml``, composed from the overrides.
        summary: one line for ``trainer --help``.
        function: ``"module:function"``, imported only when the command runs, so that
            ``trainer --help`` loads no torch; called as ``function(overrides, print_config=...)``.
        section: the key of the command's own section in its config (``sweep``), shown by
            ``trainer <command> --help``; None: the root keys that no config group fills.
        multirun: like ``function``, for ``-m`` / ``--multirun``; None: the command has no such mode.
        notes: more lines for ``trainer --help`` under the summary (an example, an option).
    """

    name: str
    config_name: str
    summary: str
    function: str
    section: str | None = None
    multirun: str | None = None
    notes: tuple[str, ...] = field(default=())

    def resolve(self, *, multirun: bool = False) -> CommandFunction:
        """The function to call (the multirun one when asked)."""
        target = self.multirun if multirun else self.function
        if target is None:  # the CLI refuses -m before it gets here
            raise ValueError(f"trainer {self.name} has no multirun mode")
        module, _, name = target.partition(":")
        function: CommandFunction = getattr(importlib.import_module(module), name)
        return function
