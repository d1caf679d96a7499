"""What a Trainer is made of: its options (checked), its devices and processes, and its state.

``engine/trainer.py`` is what a Trainer does (fit, validate, test, predict: the loop); this is
its constructor, whose signature is the one source of the ``trainer:`` config's keys, types
and defaults (``config/schema.py`` is generated from it), the attributes the loop and the
callbacks read, and the loop state that checkpoints save (``engine.training_state``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from trainer.engine.callback_protocols import CheckpointCallback, find_checkpoint_callback
from trainer.engine.cpu_threads import check_cpu_threads
from trainer.engine.device import resolve_device
from trainer.engine.distributed import resolve_world
from trainer.engine.module import SchedulerSpec, TrainingModule
from trainer.engine.optimization import OptimizerStep
from trainer.engine.performance import check_compile, run_switches
from trainer.engine.precision import autocast_factory, make_grad_scaler, normalize_precision
from trainer.engine.preemption import Preemption
from trainer.engine.resume_state import EpochProgress
from trainer.engine.strategy import Strategy, TrainingStep, strategy_for
from trainer.errors import ConfigError
from trainer.ranges import check_value
from trainer.tracking.base import Logger, NullLogger

#: ``norm``: the total L2 norm of the gradients; ``value``: each element.
CLIP_ALGORITHMS = ("norm", "value")


def check_trainer_options(
    *,
    max_epochs: int,
    accumulate_grad_batches: int,
    check_val_every_n_epoch: int,
    log_every_n_steps: int,
    gradient_clip_val: float,
    gradient_clip_algorithm: str,
    checkpoint_every_n_steps: int,
    deterministic: bool,
    cudnn_benchmark: bool | None,
) -> None:
    """Refuse options the loop cannot run with (see :class:`~trainer.engine.trainer.Trainer`).

    Raises:
        ConfigError: naming the option, its value and what it may be.
    """
    if gradient_clip_algorithm not in CLIP_ALGORITHMS:
        raise ConfigError(
            f"trainer.gradient_clip_algorithm={gradient_clip_algorithm!r}; choose 'norm' or 'value'."
        )
    for name, value in (
        ("max_epochs", max_epochs),
        ("accumulate_grad_batches", accumulate_grad_batches),
        ("check_val_every_n_epoch", check_val_every_n_epoch),
        ("log_every_n_steps", log_every_n_steps),
        ("gradient_clip_val", gradient_clip_val),  # 0 turns clipping off
        ("checkpoint_every_n_steps", checkpoint_every_n_steps),  # 0: only at epoch ends and stops
    ):
        check_value(f"trainer.{name}", value)
    if deterministic and cudnn_benchmark:
        raise ConfigError(
            "trainer.cudnn_benchmark=true picks kernels by timing them, which trainer.deterministic=true "
            "rules out; set one of them to false."
        )


class TrainerSetup:
    """The Trainer's options, devices, processes and loop state; :class:`Trainer` adds the loop."""

    def __init__(
        self,
        *,
        accelerator: str = "auto",
        strategy: str = "auto",
        devices: int | str = "auto",
        precision: str | int = "32",
        max_epochs: int = 30,
        max_steps: int = -1,
        max_time: float | None = None,
        gradient_clip_val: float = 0.0,
        gradient_clip_algorithm: str = "norm",
        accumulate_grad_batches: int = 1,
        limit_train_batches: int | float = 1.0,
        limit_val_batches: int | float = 1.0,
        limit_test_batches: int | float = 1.0,
        limit_predict_batches: int | float = 1.0,
        fast_dev_run: bool | int = False,
        overfit_batches: int = 0,
        check_val_every_n_epoch: int = 1,
        log_every_n_steps: int = 10,
        deterministic: bool = False,
        checkpoint_every_n_steps: int = 0,
        compile: bool = False,
        cudnn_benchmark: bool | None = None,
        tf32: bool | None = None,
        cpu_threads: int | str = "auto",
        callbacks: Sequence[Any] = (),
        logger: Logger | None = None,
        default_root_dir: str | Path = ".",
    ) -> None:
        """Make a Trainer; every option is checked here, before any work starts.

        Args:
            accelerator: ``auto``, ``cpu``, ``cuda`` or ``mps``; resolved once, here.
            strategy: ``auto`` (one process, or DDP when torchrun started several or ``devices`` asks
                for more) or ``ddp`` (one process per device, gradients averaged).
            devices: processes (one per device) on this machine, or ``auto``: every GPU with
                ``strategy=ddp`` on CUDA, else one. Above one, the processes come from torchrun.
            precision: ``32``, ``bf16-mixed`` or ``16-mixed``.
            max_epochs: stop after this many epochs.
            max_steps: stop after this many optimizer steps (``-1``: no limit).
            max_time: stop after this many seconds of fitting (``None``: no limit).
            gradient_clip_val: clip threshold; 0 turns clipping off.
            gradient_clip_algorithm: ``norm`` (total L2 norm) or ``value`` (each element).
            accumulate_grad_batches: batches whose gradients add up before one optimizer step.
            limit_train_batches, limit_val_batches, limit_test_batches, limit_predict_batches:
                a float in (0, 1] is a fraction of the batches, an int a count.
            fast_dev_run: run 1 (or n) batches of train, val and test once, save nothing.
            overfit_batches: train and validate on the first n training batches, unshuffled.
            check_val_every_n_epoch: validate every n-th epoch.
            log_every_n_steps: send ``train/loss`` to the logger every n optimizer steps.
            deterministic: use deterministic kernels during fit/evaluation.
            checkpoint_every_n_steps: also save ``last.ckpt`` every n optimizer steps, in the middle
                of epochs, to resume from after a crash (``0``: only at epoch ends and stops).
            compile: ``torch.compile`` the model's forward for the fit (checkpoints keep plain keys).
            cudnn_benchmark: let cuDNN time kernels and pick the fastest for fixed shapes; ``None``
                leaves torch's setting.
            tf32: TF32 matmuls and convolutions on Ampere or newer GPUs (``true``) or full fp32
                (``false``); ``None`` leaves torch's settings.
            cpu_threads: intra-op threads while fitting on the CPU: ``auto`` (one for a model under
                100k weights, else torch's default; see ``engine/cpu_threads.py``) or a number.
            callbacks: called in this order for each hook.
            logger: where metrics go; ``None`` keeps them in memory only.
            default_root_dir: folder of the run (checkpoints land in ``checkpoints/`` inside).
        """
        check_trainer_options(
            max_epochs=max_epochs,
            accumulate_grad_batches=accumulate_grad_batches,
            check_val_every_n_epoch=check_val_every_n_epoch,
            log_every_n_steps=log_every_n_steps,
            gradient_clip_val=gradient_clip_val,
            gradient_clip_algorithm=gradient_clip_algorithm,
            checkpoint_every_n_steps=checkpoint_every_n_steps,
            deterministic=deterministic,
            cudnn_benchmark=cudnn_benchmark,
        )
        device = resolve_device(accelerator)
        self.world = resolve_world(strategy, devices, device)
        self.strategy: Strategy = strategy_for(self.world, device)  # joins the process group in DDP
        self.device = self.strategy.device
        if compile:
            check_compile(self.device)
        self.precision = normalize_precision(precision)
        self._autocast = autocast_factory(self.precision, self.device)
        self.fast_dev_run = int(fast_dev_run)
        if self.fast_dev_run:
            # One short pass through everything, like Lightning: a smoke test of the whole run.
            max_epochs, max_steps, max_time = 1, self.fast_dev_run, None
            limit_train_batches = limit_val_batches = self.fast_dev_run
            limit_test_batches = limit_predict_batches = self.fast_dev_run
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.max_time = max_time
        self.accumulate_grad_batches = accumulate_grad_batches
        self.limits = {
            "train": limit_train_batches,
            "val": limit_val_batches,
            "test": limit_test_batches,
            "predict": limit_predict_batches,
        }
        self.overfit_batches = overfit_batches
        self.check_val_every_n_epoch = check_val_every_n_epoch
        self.log_every_n_steps = log_every_n_steps
        self.checkpoint_every_n_steps = checkpoint_every_n_steps
        self.compile = compile
        check_cpu_threads(cpu_threads)
        self.cpu_threads = cpu_threads
        # Deterministic kernels, cuDNN autotuning and TF32 as configured, while the Trainer runs.
        self._switches = functools.partial(
            run_switches, deterministic=deterministic, cudnn_benchmark=cudnn_benchmark, tf32=tf32
        )
        self.callbacks = list(callbacks)
        # One record per run: the other processes of a DDP run log nothing.
        self.logger: Logger = (logger if self.world.is_rank_zero else None) or NullLogger()
        self.default_root_dir = Path(default_root_dir)
        # Loop state, all of it saved in checkpoints.
        self.current_epoch = 0  # epochs completed
        self.global_step = 0  # optimizer steps taken
        self.batch_idx = 0
        self.progress = EpochProgress()  # position within the current epoch, at the last save or stop
        self.should_stop = False
        self.num_training_batches = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler_spec: SchedulerSpec | None = None
        self.grad_scaler = make_grad_scaler(self.precision, self.device)
        self._optimizer_step = OptimizerStep(
            self.grad_scaler, clip_val=float(gradient_clip_val), clip_algorithm=gradient_clip_algorithm
        )
        self.callback_metrics: dict[str, float] = {}
        self.history: list[dict[str, float]] = []  # one row per epoch: epoch, step and metrics
        self.diverged: str | None = None  # why training stopped as diverged (engine.divergence)
        self.config: dict[str, Any] | None = None  # resolved run config, stored in checkpoints
        self._module: TrainingModule | None = None
        self._training_step: TrainingStep | None = None  # the strategy's, during a fit
        self._preemption = Preemption(deferred=self.strategy.distributed)
        self._started = time.monotonic()  # when fit began, less the fitting time before a resume
        self._deadline: float | None = None  # when max_time runs out

    # ------------------------------------------------------------------ processes
    @property
    def global_rank(self) -> int:
        """This process's rank among the run's processes (0 in one process)."""
        return self.world.rank

    @property
    def world_size(self) -> int:
        """Processes in the run."""
        return self.world.world_size

    @property
    def is_global_zero(self) -> bool:
        """Whether this process writes checkpoints and logs (always, in one process)."""
        return self.strategy.is_rank_zero

    @property
    def checkpoint_callback(self) -> CheckpointCallback | None:
        """The first callback that writes checkpoints (``ModelCheckpoint``), if any."""
        return find_checkpoint_callback(self.callbacks)
