"""The scheduler group's targets: each schedule's settings checked when the config is built.

``conf/scheduler/cosine.yaml`` names ``trainer.optim.schedule_targets.cosine``. Building it
checks the settings by making the schedule once over a throwaway optimizer, and returns the
factory the Trainer calls later with the real optimizer and plan. As a plain ``_partial_``,
the same mistake (``scheduler.eta_min=-1``) surfaced only inside ``Trainer.fit``, after the
run folder and the tracking run were made.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import torch

from trainer.errors import ConfigError
from trainer.optim import schedulers
from trainer.optim.schedule import SchedulerSpec, TrainingPlan

ScheduleFactory = Callable[[torch.optim.Optimizer, TrainingPlan], SchedulerSpec]

#: A plan for the trial build: the real one (epochs x batches) is known only inside fit.
TRIAL_PLAN = TrainingPlan(max_epochs=10, steps_per_epoch=10)


def _checked(schedule: Callable[..., SchedulerSpec]) -> Callable[..., ScheduleFactory]:
    """A config target for ``schedule``: its keyword settings in, a checked factory out."""

    def build(**settings: Any) -> ScheduleFactory:
        trial = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        try:
            schedule(trial, TRIAL_PLAN, **settings)  # raises our ConfigError for a bad value
        except (ValueError, TypeError) as exc:  # what torch's schedulers check themselves
            raise ConfigError(
                f"scheduler settings {settings} are refused: {' '.join(str(exc).split())}. "
                "Fix the value in scheduler.<key> on the command line or in conf/scheduler/."
            ) from None
        return functools.partial(schedule, **settings)

    signature = inspect.signature(schedule)
    options = [p for name, p in signature.parameters.items() if name not in ("optimizer", "plan")]
    # The config checks read the target's signature: give them the schedule's own settings.
    build.__signature__ = signature.replace(parameters=options)  # type: ignore[attr-defined]
    hints = typing.get_type_hints(schedule)  # resolved in schedulers' namespace, where they were written
    build.__annotations__ = {k: v for k, v in hints.items() if k not in ("optimizer", "plan", "return")}
    build.__name__ = build.__qualname__ = schedule.__name__
    build.__doc__ = f"Checked settings for :func:`trainer.optim.schedulers.{schedule.__name__}`."
    return build


piecewise = _checked(schedulers.piecewise)
exponential = _checked(schedulers.exponential)
power = _checked(schedulers.power)
performance = _checked(schedulers.performance)
onecycle = _checked(schedulers.onecycle)
cosine = _checked(schedulers.cosine)
