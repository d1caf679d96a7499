"""How many processes train the run, kept out of the loop: one process, or DDP.

The Trainer's loop is the same in both; it asks its strategy, as Lightning Fabric's loop asks
its ``Strategy``, for what depends on the processes: the model's training step (wrapped in
``DistributedDataParallel`` for the fit), a context with no gradient all-reduce inside an
accumulation window, the mean of a tensor over the processes, an agreement on a stop (a signal,
``max_time``, a non-finite loss), each process's shard of a loader, every process's evaluation
rows, rank 0's buffers, and a checkpoint read on rank 0.

:class:`SingleProcessStrategy` runs none of the collectives and adds no work to a step: its
``no_backward_sync`` is a shared ``nullcontext`` and its training step is the module's own.
:class:`DDPStrategy` calls the helpers of :mod:`trainer.engine.distributed`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.engine import distributed, loaders
from trainer.engine.checkpoint import restore_rng_state
from trainer.engine.distributed import World
from trainer.engine.loss_watch import BadLoss, LossWatch
from trainer.engine.module import Batch, TrainingModule
from trainer.engine.preemption import Preemption

T = TypeVar("T")
#: One batch's training loss: the module's ``training_step``, or DDP's wrapper of it.
TrainingStep = Callable[[Batch], torch.Tensor]
#: What an evaluation pass returns: outputs and labels (``None`` where there are no rows), the
#: summed loss and the number of rows.
EvaluationRows = tuple[torch.Tensor | None, torch.Tensor | None, float, int]

_NO_SYNC_NEEDED = contextlib.nullcontext()  # reusable: one process never syncs gradients


class Strategy(Protocol):
    """What the Trainer asks about the processes of a run.

    Attributes:
        world: this process's place among the run's processes.
        device: the device this process trains on.
        eager_loss_check: passed to :class:`LossWatch` (``None``: it decides by device; ``False``:
            record non-finite losses on the device, so the processes raise together).
    """

    world: World
    device: torch.device
    eager_loss_check: bool | None

    @property
    def distributed(self) -> bool:
        """Whether several processes train the run (signals are then agreed on, not acted on)."""
        ...

    @property
    def is_rank_zero(self) -> bool:
        """Whether this process writes files and records the run."""
        ...

    def wrap(self, module: TrainingModule) -> TrainingStep:
        """Prepare ``module`` for a fit; return the callable that computes one batch's loss."""
        ...

    def unwrap(self) -> None:
        """End the fit's wrapping; the module's model keeps plain keys throughout."""
        ...

    def no_backward_sync(self, enabled: bool) -> AbstractContextManager[object]:
        """A context in which backward adds to local gradients only (inside an accumulation window)."""
        ...

    def reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean of ``tensor`` over the processes."""
        ...

    def agree_to_stop(self, preemption: Preemption, deadline: float | None) -> None:
        """Make a signal or the end of ``max_time`` that any process met every process's."""
        ...

    def out_of_time(self, deadline: float | None) -> bool:
        """Whether ``max_time`` has run out (as the processes agreed, in several)."""
        ...

    def poll_loss(self, watch: LossWatch, global_step: int | None) -> BadLoss | None:
        """A non-finite loss any process recorded, when the check is due (``None``: force it)."""
        ...

    def shard(self, loader: Any, stage: str) -> Any:
        """This process's part of a split's loader."""
        ...

    def gather_evaluation(self, rows: EvaluationRows) -> EvaluationRows:
        """Every process's evaluation rows, in split order."""
        ...

    def broadcast_buffers(self, model: nn.Module) -> None:
        """Rank 0's buffers (batch-norm statistics) in every process, before an evaluation."""
        ...

    def read_on_rank_zero(self, read: Callable[[], T]) -> T:
        """``read()`` on rank 0, its result (or its error) in every process."""
        ...

    def restore_rng(self, rng: dict[str, Any]) -> None:
        """Put the random streams back where a checkpoint recorded them."""
        ...


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


class SingleProcessStrategy:
    """One process on one device: no collective ever runs."""

    eager_loss_check: bool | None = None

    def __init__(self, device: torch.device, world: World | None = None) -> None:
        self.device = device
        self.world = world or World()

    @property
    def distributed(self) -> bool:
        return False

    @property
    def is_rank_zero(self) -> bool:
        return True

    def wrap(self, module: TrainingModule) -> TrainingStep:
        return module.training_step

    def unwrap(self) -> None:
        return None

    def no_backward_sync(self, enabled: bool) -> AbstractContextManager[object]:
        return _NO_SYNC_NEEDED

    def reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def agree_to_stop(self, preemption: Preemption, deadline: float | None) -> None:
        return None  # the signal handler set preemption.signum; the clock is read when asked

    def out_of_time(self, deadline: float | None) -> bool:
        return _past(deadline)

    def poll_loss(self, watch: LossWatch, global_step: int | None) -> BadLoss | None:
        return watch.poll(global_step)

    def shard(self, loader: Any, stage: str) -> Any:
        return loader

    def gather_evaluation(self, rows: EvaluationRows) -> EvaluationRows:
        return rows

    def broadcast_buffers(self, model: nn.Module) -> None:
        return None

    def read_on_rank_zero(self, read: Callable[[], T]) -> T:
        return read()

    def restore_rng(self, rng: dict[str, Any]) -> None:
        restore_rng_state(rng)


class DDPStrategy:
    """One process per device under torchrun; DDP averages the gradients.

    Args:
        world: this process's place (several processes).
        device: this process's device (``cuda:<local rank>`` or the CPU); the process group
            is joined here unless ``train()`` made it already.
    """

    eager_loss_check: bool | None = False  # a rank must not raise alone: the others would wait

    def __init__(self, world: World, device: torch.device) -> None:
        self.world = world
        self.device = device
        self._ddp: DistributedDataParallel | None = None
        self._out_of_time = False  # max_time as the processes agreed on it: their clocks differ
        distributed.init_process_group(world, device)  # a no-op when train() made it

    @property
    def distributed(self) -> bool:
        return True

    @property
    def is_rank_zero(self) -> bool:
        return self.world.is_rank_zero

    def wrap(self, module: TrainingModule) -> TrainingStep:
        self._ddp = distributed.data_parallel(module, self.device)
        return self._ddp

    def unwrap(self) -> None:
        self._ddp = None

    def no_backward_sync(self, enabled: bool) -> AbstractContextManager[object]:
        # Inside an accumulation window no_sync skips the all-reduce: it runs once, on the last batch.
        if not enabled:
            return _NO_SYNC_NEEDED
        assert self._ddp is not None, "no_backward_sync outside a fit"
        return self._ddp.no_sync()

    def reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        return distributed.mean_across(tensor)

    def agree_to_stop(self, preemption: Preemption, deadline: float | None) -> None:
        # One small all-reduce on the CPU: the first signal any rank received, and the time limit
        # by the slowest clock, become every rank's; a rank that stopped alone would leave the
        # others waiting in the next all-reduce.
        signum, out_of_time = distributed.agree_max([preemption.received, _past(deadline)])
        preemption.signum = signum
        self._out_of_time = bool(out_of_time)

    def out_of_time(self, deadline: float | None) -> bool:
        return self._out_of_time

    def poll_loss(self, watch: LossWatch, global_step: int | None) -> BadLoss | None:
        if global_step is not None and global_step % watch.sync_every:
            return None  # not due, on any rank: the same steps everywhere
        bad = watch.poll(global_step)
        (anywhere,) = distributed.agree_max([bad is not None])
        if not anywhere:
            return None
        return bad or BadLoss.elsewhere()

    def shard(self, loader: Any, stage: str) -> Any:
        if stage == "predict":
            return loader  # reporting predicts on rank 0 alone, with no collective
        return loaders.shard(loader, self.world.rank, self.world.world_size, stage=stage)

    def gather_evaluation(self, rows: EvaluationRows) -> EvaluationRows:
        return distributed.gather_evaluation(*rows)

    def broadcast_buffers(self, model: nn.Module) -> None:
        distributed.broadcast_buffers(model)

    def read_on_rank_zero(self, read: Callable[[], T]) -> T:
        # The checkpoint is in rank 0's run folder; the other ranks may be on machines that
        # never see that disk (a multi-node torchrun).
        return distributed.read_on_rank_zero(read)

    def restore_rng(self, rng: dict[str, Any]) -> None:
        restore_rng_state(rng)
        if self.device.type == "cuda" and rng.get("cuda"):
            # Rank 0 saved the stream of its own GPU; every rank drew as much from its own.
            torch.cuda.set_rng_state(rng["cuda"][0], self.device)


def strategy_for(world: World, device: torch.device) -> Strategy:
    """The strategy of ``world``: DDP on this process's device when it has several processes."""
    if not world.distributed:
        return SingleProcessStrategy(device, world)
    return DDPStrategy(world, distributed.process_device(device, world))
