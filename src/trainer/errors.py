"""Errors meant for people: each names the bad value and the fix.

The CLI catches :class:`UserError` and prints its message alone, without a traceback,
because the mistake is in the user's input and the traceback would only hide that.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (config, data file, command line), with its fix."""


class ConfigError(UserError):
    """The composed config is invalid: an unknown key, a wrong type, a bad choice."""


class DataError(UserError):
    """The data cannot be used as given: missing file, missing column, bad values."""


class NonFiniteLossError(UserError):
    """The training loss became NaN or infinite."""


class RunStopped(Exception):
    """Raised from a callback to end a run early on purpose, such as a pruned sweep trial.

    ``train()`` closes the tracking run with ``run_status`` instead of FAILED and records no
    error; the exception still propagates to whoever asked for the stop.
    """

    run_status = "KILLED"
