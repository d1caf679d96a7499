"""The training state a checkpoint holds: captured from a fit, and restored into one.

``engine/checkpoint.py`` is the file format (keys, atomic writes, safe reads). This module is
what goes into the file and back out: the weights, the optimizer, the schedule (refusing one
sized for another run length), the grad scaler, the loop's position (epoch, step, position in
the epoch, metrics), the callbacks' states, the random streams, the run config and the tracking
run id. :class:`CheckpointedLoop` declares what of the Trainer it reads and writes.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from trainer.engine.callback_protocols import StatefulCallback, state_key
from trainer.engine.checkpoint import capture_rng_state, weight_mismatch
from trainer.engine.resume_changes import warn_changed_settings
from trainer.engine.resume_state import EpochProgress
from trainer.engine.strategy import Strategy
from trainer.errors import UserError
from trainer.optim.schedule import SchedulerSpec
from trainer.tracking.base import Logger


class CheckpointedLoop(Protocol):
    """The parts of the Trainer that a checkpoint saves and a resume puts back."""

    current_epoch: int
    global_step: int
    progress: EpochProgress
    callback_metrics: dict[str, float]
    callbacks: list[Any]
    optimizer: torch.optim.Optimizer | None
    scheduler_spec: SchedulerSpec | None
    grad_scaler: torch.amp.GradScaler
    config: dict[str, Any] | None
    logger: Logger
    strategy: Strategy
    num_training_batches: int
    accumulate_grad_batches: int


def capture_training_state(loop: CheckpointedLoop, model: nn.Module, *, elapsed: float) -> dict[str, Any]:
    """Everything a resume needs, as the plain dict ``engine.checkpoint.save_checkpoint`` writes.

    Args:
        loop: the Trainer.
        model: the trained network (plain keys, never the DDP or compiled wrapper).
        elapsed: seconds of fitting so far, which ``max_time`` counts after a resume too.
    """
    spec = loop.scheduler_spec
    return {
        "model": model.state_dict(),
        "optimizer": loop.optimizer.state_dict() if loop.optimizer else {},
        "scheduler": spec.scheduler.state_dict() if spec else {},
        "grad_scaler": loop.grad_scaler.state_dict() if loop.grad_scaler.is_enabled() else {},
        "epoch": loop.current_epoch,
        "global_step": loop.global_step,
        "callbacks": {
            state_key(cb): cb.state_dict() for cb in loop.callbacks if isinstance(cb, StatefulCallback)
        },
        "rng": capture_rng_state(),
        "config": loop.config or {},
        "tracking_run_id": loop.logger.run_id or "",
        "metrics": dict(loop.callback_metrics),
        "progress": loop.progress.state_dict(
            batches_per_epoch=loop.num_training_batches,
            accumulate=loop.accumulate_grad_batches,
            elapsed=elapsed,
        ),
    }


def restore_weights(loop: CheckpointedLoop, model: nn.Module, state: dict[str, Any]) -> None:
    """Load the checkpoint's weights into ``model`` (and its run config, when the loop has none).

    Raises:
        UserError: the weights belong to another model.
    """
    problems = weight_mismatch(state["model"], model)
    if problems:  # one line instead of torch's list of every key and shape
        raise UserError(
            f"The checkpoint's weights do not fit this model: {problems}. Use the model settings "
            "the checkpoint was trained with (they are stored in it)."
        )
    model.load_state_dict(state["model"])
    loop.config = loop.config or state["config"] or None


def restore_training_state(loop: CheckpointedLoop, model: nn.Module, state: dict[str, Any]) -> float:
    """Put a fit back where ``state`` was captured; return the fitting time it had taken.

    The optimizer and schedule must be built already (``configure_optimizers``), and
    ``loop.num_training_batches`` counted, so the position can be checked against this run.

    A setting that changes the training trajectory but can continue (``data.batch_size`` at an
    epoch's end, the learning rate) is named in a warning with both values.

    Raises:
        UserError: the weights, the epoch's length, the accumulation or the schedule's length
            do not fit this run.
    """
    warn_changed_settings(state["config"], loop.config)  # before restore_weights fills a missing one in
    restore_weights(loop, model, state)
    progress = state["progress"]
    loop.progress = EpochProgress.from_state(
        progress, batches_per_epoch=loop.num_training_batches, accumulate=loop.accumulate_grad_batches
    )
    if loop.optimizer is not None and state["optimizer"]:
        loop.optimizer.load_state_dict(state["optimizer"])
    if loop.scheduler_spec is not None and state["scheduler"]:
        restore_scheduler(loop.scheduler_spec.scheduler, state["scheduler"])
    if loop.grad_scaler.is_enabled() and state["grad_scaler"]:
        loop.grad_scaler.load_state_dict(state["grad_scaler"])
    loop.current_epoch = int(state["epoch"])
    loop.global_step = int(state["global_step"])
    loop.callback_metrics = dict(state["metrics"])
    saved = state["callbacks"]
    for cb in loop.callbacks:
        if isinstance(cb, StatefulCallback) and state_key(cb) in saved:
            cb.load_state_dict(saved[state_key(cb)])
    loop.strategy.restore_rng(state["rng"])
    return float(progress.get("elapsed", 0.0))


def restore_scheduler(scheduler: Any, saved: dict[str, Any]) -> None:
    """Load a schedule's state, refusing one planned for a different run length.

    1cycle and cosine are sized from the whole run; the saved state carries the old size,
    so resuming to more epochs would run past the schedule's end (1cycle raises deep in
    torch, cosine silently turns back up).

    Raises:
        UserError: the saved schedule has another ``total_steps`` or ``T_max``.
    """
    planned = scheduler.state_dict()
    for key in ("total_steps", "T_max"):
        if key in saved and key in planned and saved[key] != planned[key]:
            raise UserError(
                f"The checkpoint's learning-rate schedule was planned for {key}={saved[key]}, this run "
                f"plans {key}={planned[key]}: a 1cycle or cosine schedule cannot be stretched. Resume "
                "with the trainer.max_epochs the run started with, or start a new run from the weights."
            )
    scheduler.load_state_dict(saved)
