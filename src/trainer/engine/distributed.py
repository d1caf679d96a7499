"""Several processes, one run (DDP): torchrun's environment, the process group, ranks, collectives.

``torchrun --nproc_per_node=N -m trainer.cli train ...`` (or ``trainer train trainer.devices=N``,
which starts it, see ``engine.launcher``) runs the same command in N processes. Each reads where
it stands from the variables torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``), joins one process group (NCCL on CUDA, each process on
``cuda:<LOCAL_RANK>``; gloo on the CPU) and trains on its shard of every epoch while
``DistributedDataParallel`` averages the gradients. Rank 0 alone writes files and records the run.

Nothing here runs in a single process: every helper is a no-op there, and the Trainer reaches
these only through its ``engine.strategy.DDPStrategy``, made when its world has several processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.data.batches import unshard
from trainer.engine.device import resolve_device
from trainer.errors import ConfigError, UserError

if TYPE_CHECKING:
    from trainer.engine.module import Batch, TrainingModule

T = TypeVar("T")

#: ``auto``: one process, or DDP when torchrun started several or ``trainer.devices`` asks for more.
STRATEGIES = ("auto", "ddp")
#: What torchrun (``torch.distributed.run``) sets in every process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")

# The group for small CPU-side collectives (stop flags, gathered evaluation rows, the run folder):
# None is the default group, which is gloo on the CPU; NCCL runs get a gloo group beside it, so
# these never wait on the GPU stream.
_control_group: Any = None


@dataclass(frozen=True)
class World:
    """Where this process stands among the processes of one run.

    Attributes:
        rank: global rank; rank 0 writes the files and records the run.
        local_rank: rank on this machine, the index of its CUDA device.
        world_size: processes in the run.
        local_world_size: processes on this machine (``trainer.devices``).
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_rank_zero(self) -> bool:
        return self.rank == 0


def torchrun_world() -> World | None:
    """The world torchrun describes in this process's environment; ``None`` outside torchrun."""
    if not all(name in os.environ for name in TORCHRUN_VARIABLES):
        return None
    world_size = int(os.environ["WORLD_SIZE"])
    return World(
        rank=int(os.environ["RANK"]),
        local_rank=int(os.environ["LOCAL_RANK"]),
        world_size=world_size,
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", world_size)),
    )


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def processes_wanted(strategy: str, devices: int | str, device: torch.device) -> int:
    """How many processes (one per device) ``trainer.strategy`` and ``trainer.devices`` ask for here.

    ``devices=auto`` is every GPU with ``strategy=ddp`` on CUDA (Lightning's reading) and one
    process otherwise; a number of devices above one means DDP whatever the strategy.

    Raises:
        ConfigError: an unknown strategy, a bad device count, more GPUs than this machine has, or
            several devices where DDP cannot run (MPS) or on one named GPU (``cuda:1``).
    """
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"trainer.strategy={strategy!r} is not known; choose auto (one process, or ddp when "
            "trainer.devices asks for more) or ddp (one process per device)."
        )
    if devices != "auto" and (isinstance(devices, bool) or not isinstance(devices, int) or devices < 1):
        raise ConfigError(f"trainer.devices={devices!r} must be a number of devices (1 or more) or auto.")
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if devices == "auto":
        return max(gpus, 1) if strategy == "ddp" and device.type == "cuda" else 1
    assert isinstance(devices, int)
    if devices > 1:
        _check_several(devices, device, gpus)
    return devices


def _check_several(count: int, device: torch.device, gpus: int) -> None:
    if device.type == "mps":
        raise ConfigError(
            f"trainer.devices={count} runs one DDP process per device, which works on CUDA and on the "
            "CPU but not on MPS; set trainer.devices=1 or trainer.accelerator=cpu."
        )
    if device.type == "cuda" and device.index is not None:
        raise ConfigError(
            f"trainer.accelerator={device} names one GPU, but trainer.devices={count} gives each process "
            "its own (cuda:<local rank>); set trainer.accelerator=cuda."
        )
    if device.type == "cuda" and count > gpus:
        raise ConfigError(
            f"trainer.devices={count} but this machine has {_count(gpus, 'CUDA GPU', 'CUDA GPUs')}; "
            f"set trainer.devices={gpus} or fewer, or trainer.devices=auto."
        )


def resolve_world(strategy: str, devices: int | str, device: torch.device) -> World:
    """This process's world: torchrun's when it started several processes, else one process.

    Raises:
        ConfigError: the settings are invalid (see :func:`processes_wanted`), they ask for several
            processes outside torchrun (``trainer train`` starts them; a sweep or a script cannot),
            or they disagree with the processes torchrun started.
    """
    wanted = processes_wanted(strategy, devices, device)
    launched = torchrun_world()
    if launched is None:
        if wanted > 1:
            raise ConfigError(
                f"trainer.devices={devices} runs {wanted} processes, one per device: start them with "
                f"`trainer train ...` (which launches torchrun) or `torchrun --nproc_per_node={wanted} "
                "-m trainer.cli train ...`; here only trainer.devices=1 can run."
            )
        return World()
    if devices != "auto" and devices != launched.local_world_size:
        started = _count(launched.local_world_size, "process", "processes")
        raise ConfigError(
            f"trainer.devices={devices} but torchrun started {started} on this machine "
            f"(--nproc_per_node); set trainer.devices={launched.local_world_size} or auto."
        )
    if not launched.distributed:
        return World()
    if launched.local_world_size > 1:
        _check_several(launched.local_world_size, device, torch.cuda.device_count())
    return launched


def process_device(device: torch.device, world: World) -> torch.device:
    """The device of this process: ``cuda:<LOCAL_RANK>`` in a CUDA run of several, else ``device``."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_process_group(world: World, device: torch.device) -> bool:
    """Join the run's process group (NCCL on CUDA, gloo on the CPU); return whether this call made it.

    A no-op for one process and when the group exists already (``train()`` made it, or the caller).
    """
    global _control_group
    if not world.distributed:
        return False
    if _active():
        if dist.get_world_size() != world.world_size:
            raise RuntimeError(
                f"a process group of {dist.get_world_size()} exists, this run has {world.world_size}"
            )
        if _control_group is None and dist.get_backend() != "gloo":
            _control_group = dist.new_group(backend="gloo")
        return False
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend="nccl" if cuda else "gloo",
        init_method="env://",  # MASTER_ADDR and MASTER_PORT, as torchrun sets them
        rank=world.rank,
        world_size=world.world_size,
        device_id=device if cuda else None,
    )
    _control_group = dist.new_group(backend="gloo") if cuda else None
    return True


def teardown() -> None:
    """Leave the process group, so that another run can start in this process."""
    global _control_group
    _control_group = None
    if _active():
        dist.destroy_process_group()


@contextmanager
def process_group(*, strategy: str, devices: int | str, accelerator: str) -> Iterator[World]:
    """The process group of one run, made (when it has several processes) and left around the block.

    Raises:
        ConfigError: see :func:`resolve_world`.
    """
    device = resolve_device(accelerator)
    world = resolve_world(strategy, devices, device)
    made = init_process_group(world, process_device(device, world))
    try:
        yield world
    finally:
        if made:
            teardown()


# ---------------------------------------------------------------------- rank helpers
def global_rank() -> int:
    """This process's rank: the group's, else torchrun's, else 0."""
    if _active():
        return dist.get_rank()
    world = torchrun_world()
    return world.rank if world is not None else 0


def world_size() -> int:
    """Processes in this run: the group's, else torchrun's, else 1."""
    if _active():
        return dist.get_world_size()
    world = torchrun_world()
    return world.world_size if world is not None else 1


def is_rank_zero() -> bool:
    """Whether this process writes files and records the run (always, in one process)."""
    return global_rank() == 0


# ---------------------------------------------------------------------- collectives
def broadcast_object(value: T) -> T:
    """Rank 0's ``value`` in every process (picklable values; the value itself in one process)."""
    if not _active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=_control_group)
    return box[0]


def read_on_rank_zero(read: Callable[[], T]) -> T:
    """``read()`` on rank 0 only, its result broadcast to every process.

    For files only rank 0 may have: the other ranks can run on machines of their own (torchrun
    across nodes), whose disks hold no run folder. A :class:`UserError` raised on rank 0 (a
    missing or bad checkpoint) is raised in every process, so none waits for a value forever;
    the others raise it as a :class:`UserError` with rank 0's message.
    """
    if not _active():
        return read()
    outcome: tuple[bool, Any] = (False, None)
    failure: Exception | None = None
    if dist.get_rank() == 0:
        try:
            outcome = (True, read())
        except Exception as exc:  # any failure: the others must hear of it, not wait
            failure, outcome = exc, (False, str(exc))
    ok, value = broadcast_object(outcome)
    if failure is not None:
        raise failure  # rank 0 keeps its own error and traceback
    if not ok:
        raise UserError(value)
    return value


def barrier() -> None:
    """Wait until every process gets here (e.g. until rank 0 has written a checkpoint)."""
    if _active():
        dist.barrier(group=_control_group)


def agree_max(values: Sequence[int]) -> list[int]:
    """The largest of each value over all processes, reduced on the CPU (no GPU sync)."""
    if not _active():
        return list(values)
    flags = torch.tensor(list(values), dtype=torch.int64)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=_control_group)
    return [int(flag) for flag in flags.tolist()]


def mean_across(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of a (device) tensor over all processes."""
    if not _active():
        return tensor
    total = tensor.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / dist.get_world_size()


def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (batch-norm statistics) into every process.

    DDP keeps parameters equal, but each rank updates running statistics on its own batches:
    evaluating with rank 0's means every rank scores the model rank 0 saves.
    """
    if not _active():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)


def gather_evaluation(
    outputs: torch.Tensor | None, labels: torch.Tensor | None, loss_sum: float, rows: int
) -> tuple[torch.Tensor | None, torch.Tensor | None, float, int]:
    """Every rank's evaluation rows (CPU tensors, ``None`` where a rank had none), in split order.

    Metrics such as ROC-AUC and average precision need every prediction, not a sum per rank: each
    process gets them all and computes the same metrics, so early stopping and checkpointing
    decide alike everywhere. Returns the outputs, labels, summed loss and row count of the split.
    """
    if not _active():
        return outputs, labels, loss_sum, rows
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (outputs, labels, loss_sum, rows), group=_control_group)
    total = sum(int(part[3]) for part in parts)
    if total == 0:
        return None, None, 0.0, 0
    return (
        unshard([part[0] for part in parts]),
        unshard([part[1] for part in parts]),
        sum(float(part[2]) for part in parts),
        total,
    )


# ---------------------------------------------------------------------- the model
class _TrainingStep(nn.Module):
    """What DDP calls: one batch's training loss (DDP hooks its all-reduce into the forward call)."""

    def __init__(self, module: TrainingModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.module.training_step(batch)


def data_parallel(module: TrainingModule, device: torch.device) -> DistributedDataParallel:
    """Wrap ``module``'s training step in DDP; its model keeps plain keys for checkpoints."""
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(_TrainingStep(module), device_ids=device_ids)
