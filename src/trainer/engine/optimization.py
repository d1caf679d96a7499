"""The optimizer step (loss scaling, clipping) and the schedule step, as the loop calls them."""

from __future__ import annotations

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.optim.schedule import SchedulerSpec


class OptimizerStep:
    """One optimizer step: unscale, clip, step (through the grad scaler when it is on), zero.

    Args:
        scaler: the run's grad scaler (enabled for ``16-mixed`` only).
        clip_val: clip threshold; 0 turns clipping off.
        clip_algorithm: ``norm`` (total L2 norm) or ``value`` (each element).
    """

    def __init__(self, scaler: torch.amp.GradScaler, *, clip_val: float, clip_algorithm: str) -> None:
        self.scaler = scaler
        self.clip_val = clip_val
        self.clip_by_norm = clip_algorithm == "norm"

    def __call__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        scaler = self.scaler
        if self.clip_val > 0:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            if self.clip_by_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_val)
            else:
                torch.nn.utils.clip_grad_value_(model.parameters(), self.clip_val)
        if scaler.is_enabled():
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def step_scheduler(spec: SchedulerSpec | None, interval: str, metrics: dict[str, float]) -> None:
    """Step the schedule when ``interval`` (``step`` or ``epoch``) is its own.

    A schedule with a ``monitor`` steps on that metric; on an epoch without validation it waits.

    Raises:
        ConfigError: the monitored metric is not among the run's metrics.
    """
    if spec is None or spec.interval != interval:
        return
    if spec.monitor is None:
        spec.scheduler.step()
        return
    if spec.monitor not in metrics:
        if interval == "epoch" and not any(k.startswith("val/") for k in metrics):
            return  # performance scheduling waits for a validation epoch
        raise ConfigError(
            f"scheduler.monitor={spec.monitor!r} is not among this run's metrics "
            f"({', '.join(sorted(metrics))}); set scheduler.monitor to one of them."
        )
    spec.scheduler.step(metrics[spec.monitor])
