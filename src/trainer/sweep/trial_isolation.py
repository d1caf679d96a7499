"""Each trial of an in-process sweep leaves the process as it found it: random states, torch's
thread count, and the logging handlers. ``train()`` seeds every generator and may add handlers;
a hundred trials in one process must not see each other's leftovers."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def _all_loggers() -> list[logging.Logger]:
    named = [x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger)]
    return [logging.getLogger(), *named]


@contextmanager
def isolated_trial() -> Iterator[None]:
    """Run the block, then put back the random states (Python, NumPy, torch), torch's thread
    count and each logger's handlers (closing the ones the block added)."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    threads = torch.get_num_threads()
    handlers = {id(lg): list(lg.handlers) for lg in _all_loggers()}
    try:
        yield
    finally:
        for lg in _all_loggers():
            before = handlers.get(id(lg), [])
            for handler in [h for h in lg.handlers if h not in before]:
                lg.removeHandler(handler)
                handler.close()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
