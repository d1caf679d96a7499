"""Learning-rate schedules by name, each returning a :class:`SchedulerSpec`.

The formulas are the textbook ones (Géron, *Hands-On Machine Learning*, ch. 11), with
``t`` counted in epochs (or steps when ``interval=step``):

- piecewise:   lr0 * gamma ** (number of milestones <= t)
- exponential: lr0 * 0.1 ** (t / s)
- power:       lr0 / (1 + t / s) ** c
- performance: multiply by ``factor`` when ``monitor`` has not improved for more than ``patience`` epochs
- onecycle:    up to ``max_lr`` and back down over the whole run, stepped every batch
- cosine:      lr0 * (1 + cos(pi * t / T)) / 2 down to ``eta_min``, T = the whole run
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import torch
from torch.optim import lr_scheduler

from trainer.errors import ConfigError
from trainer.optim.schedule import SchedulerSpec, TrainingPlan

INTERVALS = ("epoch", "step")


def _check_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise ConfigError(f"scheduler.interval={interval!r}; choose 'epoch' or 'step'.")


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"scheduler.{name}={value} must be greater than 0.")


def _not_negative(name: str, value: float, why: str) -> None:
    # A negative value here would turn the learning rate negative or the schedule backwards.
    if value < 0:
        raise ConfigError(
            f"scheduler.{name}={value} must be 0 or more ({why}); fix it with scheduler.{name}=0."
        )


def piecewise(
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    *,
    milestones: Sequence[int] = (10, 20),
    gamma: float = 0.1,
    interval: str = "epoch",
) -> SchedulerSpec:
    """Piecewise-constant schedule: multiply by ``gamma`` at each milestone."""
    _check_interval(interval)
    _positive("gamma", gamma)  # 0 or less would stop training or climb the loss
    marks = sorted(int(m) for m in milestones)
    if marks and marks[0] < 0:
        raise ConfigError(
            f"scheduler.milestones={list(milestones)} holds {marks[0]}; milestones are epochs, 0 or more."
        )

    def factor(t: int) -> float:
        return float(gamma ** bisect.bisect_right(marks, t))

    return SchedulerSpec(lr_scheduler.LambdaLR(optimizer, factor), interval=interval)


def exponential(
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    *,
    s: float = 10.0,
    interval: str = "epoch",
) -> SchedulerSpec:
    """Exponential decay: the rate drops tenfold every ``s`` epochs (or steps)."""
    _check_interval(interval)
    _positive("s", s)
    return SchedulerSpec(lr_scheduler.LambdaLR(optimizer, lambda t: 0.1 ** (t / s)), interval=interval)


def power(
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    *,
    s: float = 10.0,
    c: float = 1.0,
    interval: str = "epoch",
) -> SchedulerSpec:
    """Power scheduling: lr0 / (1 + t/s)**c, quick at first and slower later."""
    _check_interval(interval)
    _positive("s", s)
    _not_negative("c", c, "a negative power makes the rate grow")
    return SchedulerSpec(
        lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + t / s) ** c), interval=interval
    )


def performance(
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    *,
    monitor: str = "val/loss",
    mode: str = "min",
    factor: float = 0.5,
    patience: int = 5,
    threshold: float = 1e-4,
    min_lr: float = 0.0,
) -> SchedulerSpec:
    """Performance scheduling: reduce the rate when ``monitor`` stops improving."""
    if mode not in ("min", "max"):
        raise ConfigError(f"scheduler.mode={mode!r}; choose 'min' or 'max'.")
    if not 0 < factor < 1:
        raise ConfigError(f"scheduler.factor={factor} must be between 0 and 1.")
    _not_negative("patience", patience, "epochs to wait")
    _not_negative("threshold", threshold, "the least change that counts as better")
    _not_negative("min_lr", min_lr, "the floor of the learning rate")
    scheduler = lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min" if mode == "min" else "max",
        factor=factor,
        patience=patience,
        threshold=threshold,
        min_lr=min_lr,
    )
    return SchedulerSpec(scheduler, interval="epoch", monitor=monitor)


def onecycle(
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    *,
    max_lr: float = 0.01,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> SchedulerSpec:
    """1cycle (Smith 2018): warm up to ``max_lr``, then anneal far below the start, per batch."""
    _positive("max_lr", max_lr)
    _positive("div_factor", div_factor)
    _positive("final_div_factor", final_div_factor)
    # torch accepts 1 and then divides by the zero-length annealing phase; it rejects an int 0.
    if not 0 <= pct_start < 1:
        raise ConfigError(f"scheduler.pct_start={pct_start} must be in [0, 1).")
    if anneal_strategy not in ("cos", "linear"):
        raise ConfigError(f"scheduler.anneal_strategy={anneal_strategy!r}; choose 'cos' or 'linear'.")
    scheduler = lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=max_lr,
        total_steps=plan.total_steps,
        pct_start=float(pct_start),
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        anneal_strategy="cos" if anneal_strategy == "cos" else "linear",
        three_phase=three_phase,
        # Cycle momentum only where the optimizer has some: it would add momentum to plain SGD.
        cycle_momentum=any(g.get("momentum", 0) > 0 or "betas" in g for g in optimizer.param_groups),
    )
    return SchedulerSpec(scheduler, interval="step")


def cosine(
    optimizer: torch.optim.Optimizer,
    plan: TrainingPlan,
    *,
    eta_min: float = 0.0,
    interval: str = "epoch",
) -> SchedulerSpec:
    """Cosine annealing from the optimizer's rate to ``eta_min`` over the whole run."""
    _check_interval(interval)
    _not_negative("eta_min", eta_min, "the rate it anneals down to")
    horizon = plan.max_epochs if interval == "epoch" else plan.total_steps
    return SchedulerSpec(
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, horizon), eta_min=eta_min),
        interval=interval,
    )
