"""Settings of the whole suite."""

from __future__ import annotations

import signal

# A suite started in the background (`make test &`, nohup, some CI runners) inherits SIGINT
# *ignored*, and every process a test starts inherits that too: a test that presses Ctrl-C on a
# `trainer sweep` would see it ignored outside `fit` and the sweep run on. Python's own Ctrl-C
# handler here makes the processes the tests start get the default disposition, as at a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
