"""The Trainer: fit, validate, test and predict in one explicit loop.

Read ``fit`` top to bottom: restore, then for each epoch train, validate, step the
schedule, notify callbacks. Callbacks only observe and signal (``should_stop``); the loop
itself never hides in them.

A run can stop between two optimizer steps of an epoch (``max_steps``, ``max_time``, SIGTERM or
SIGINT) and save that position; ``checkpoint_every_n_steps`` saves it periodically. A resume
from such a checkpoint continues at the next batch with the same order, random streams and
schedule, so it ends with the same weights as a run that never stopped.

Under torchrun (``strategy``/``devices``, see ``engine.distributed``) every process runs this
same loop on its shard of each epoch, DDP averages the gradients, evaluation gathers every rank's
rows so each process computes the same metrics, and only rank 0 writes checkpoints and logs.
Every decision that could differ between processes (a signal, ``max_time``, a non-finite loss) is
agreed on at step boundaries, so no process waits for another that has stopped. In one process
none of this runs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from trainer.engine.callbacks.model_checkpoint import ModelCheckpoint
from trainer.engine.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from trainer.engine.device import move_to_device, resolve_device
from trainer.engine.distributed import (
    agree_max,
    broadcast_buffers,
    data_parallel,
    gather_evaluation,
    init_process_group,
    mean_across,
    process_device,
    read_on_rank_zero,
    resolve_world,
)
from trainer.engine.loss_watch import BadLoss, LossWatch
from trainer.engine.module import SchedulerSpec, TrainingModule, TrainingPlan
from trainer.engine.performance import (
    EpochMeter,
    backend_switches,
    check_compile,
    compiled_forward,
    rows_trained,
)
from trainer.engine.precision import autocast_factory, make_grad_scaler, normalize_precision
from trainer.engine.preemption import Preempted, Preemption
from trainer.engine.resume_state import EpochProgress, position_loader
from trainer.engine.seed import deterministic_algorithms
from trainer.errors import ConfigError, NonFiniteLossError, UserError
from trainer.tracking.base import Logger, NullLogger

log = logging.getLogger(__name__)

CLIP_ALGORITHMS = ("norm", "value")


def _limit(total: int, limit: int | float) -> int:
    """Lightning's rule: a float is a fraction of the batches (at least one), an int a count."""
    if isinstance(limit, float):
        if not 0.0 <= limit <= 1.0:
            raise ConfigError(f"A batch limit of {limit} is neither a fraction in [0, 1] nor a count.")
        return min(total, max(1, int(total * limit))) if limit > 0 else 0
    return min(total, int(limit))


def _full_length(loader: Any) -> int:
    """Batches in the loader's whole epoch, or -1 when it has no length."""
    try:
        return len(loader)
    except TypeError:
        return -1


def _state_key(callback: Any) -> str:
    """Key of a callback's state in checkpoints; callbacks need no base class, so no ``state_key``."""
    return getattr(callback, "state_key", type(callback).__name__)


class Trainer:
    """Runs a :class:`TrainingModule` over a datamodule's loaders.

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
        callbacks: called in this order for each hook.
        logger: where metrics go; ``None`` keeps them in memory only.
        default_root_dir: folder of the run (checkpoints land in ``checkpoints/`` inside).
    """

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
        callbacks: Sequence[Any] = (),
        logger: Logger | None = None,
        default_root_dir: str | Path = ".",
    ) -> None:
        if gradient_clip_algorithm not in CLIP_ALGORITHMS:
            raise ConfigError(
                f"trainer.gradient_clip_algorithm={gradient_clip_algorithm!r}; choose 'norm' or 'value'."
            )
        for name, value in (
            ("max_epochs", max_epochs),
            ("accumulate_grad_batches", accumulate_grad_batches),
            ("check_val_every_n_epoch", check_val_every_n_epoch),
            ("log_every_n_steps", log_every_n_steps),
        ):
            if value < 1:
                raise ConfigError(f"trainer.{name}={value} must be 1 or more.")
        if gradient_clip_val < 0:
            raise ConfigError(f"trainer.gradient_clip_val={gradient_clip_val} must be 0 (off) or more.")
        if checkpoint_every_n_steps < 0:
            raise ConfigError(
                f"trainer.checkpoint_every_n_steps={checkpoint_every_n_steps} must be 0 (off) or more."
            )
        if deterministic and cudnn_benchmark:
            raise ConfigError(
                "trainer.cudnn_benchmark=true picks kernels by timing them, which trainer.deterministic=true "
                "rules out; set one of them to false."
            )
        self.device = resolve_device(accelerator)
        self.world = resolve_world(strategy, devices, self.device)
        if self.world.distributed:
            self.device = process_device(self.device, self.world)
            init_process_group(self.world, self.device)  # a no-op when train() made it
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
        self.gradient_clip_val = float(gradient_clip_val)
        self.gradient_clip_algorithm = gradient_clip_algorithm
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
        self.deterministic = deterministic
        self.checkpoint_every_n_steps = checkpoint_every_n_steps
        self.compile = compile
        self.cudnn_benchmark = cudnn_benchmark
        self.tf32 = tf32
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
        self.callback_metrics: dict[str, float] = {}
        self.history: list[dict[str, float]] = []  # one row per epoch: epoch, step and metrics
        self.config: dict[str, Any] | None = None  # resolved run config, stored in checkpoints
        self._module: TrainingModule | None = None
        self._ddp: DistributedDataParallel | None = None  # the module's training step, during a DDP fit
        self._preemption = Preemption(deferred=self.world.distributed)
        self._out_of_time = False  # max_time as the processes of a DDP run agreed on it
        self._started = time.monotonic()  # when fit began, less the fitting time before a resume

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
        return self.world.is_rank_zero

    # ------------------------------------------------------------------ public API
    def fit(self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None) -> None:
        """Train ``module`` on ``datamodule``; resume from ``ckpt_path`` when given.

        Raises:
            Preempted: SIGTERM or SIGINT arrived; a checkpoint of the position was saved first.
        """
        with self._switches(), compiled_forward(module.model, self.compile), self._preemption:
            self._fit(module, datamodule, ckpt_path)
            self._stop_on_late_signal()

    def validate(
        self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None
    ) -> dict[str, float]:
        """Metrics of the validation split, prefixed ``val/``."""
        return self._evaluate_split(module, datamodule, "val", ckpt_path)

    def test(
        self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None
    ) -> dict[str, float]:
        """Metrics of the test split, prefixed ``test/``; ``ckpt_path='best'`` uses the best checkpoint."""
        metrics = self._evaluate_split(module, datamodule, "test", ckpt_path)
        self._call("on_test_end", module, metrics)
        return metrics

    def predict(
        self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None
    ) -> torch.Tensor:
        """The objective's predictions (probabilities, values or per-row errors) for the predict split.

        In a DDP run this process predicts the whole split alone, with no collective: reporting
        calls it on rank 0 only.
        """
        self._prepare(module, ckpt_path)
        loader = self._loader(datamodule.predict_dataloader(), "predict")
        if loader is None:
            raise UserError("The data has no predict split; set data.test_fraction above 0.")
        with self._switches():
            outputs, _, _ = self._run_evaluation(module, loader, "predict", with_labels=False)
        return module.objective.predict(outputs)

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the whole training state to ``path`` (see ``engine.checkpoint``)."""
        if self._module is None:
            raise RuntimeError("save_checkpoint needs a module: call fit first")
        if not self.world.is_rank_zero:
            return Path(path)  # one writer; every rank holds the same weights
        # A resume replays only what comes after this checkpoint: what was logged before it
        # must be on disk before the checkpoint is.
        self.logger.persist()
        spec = self.scheduler_spec
        state = {
            "model": self._module.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else {},
            "scheduler": spec.scheduler.state_dict() if spec else {},
            "grad_scaler": self.grad_scaler.state_dict() if self.grad_scaler.is_enabled() else {},
            "epoch": self.current_epoch,
            "global_step": self.global_step,
            "callbacks": {
                _state_key(cb): cb.state_dict() for cb in self.callbacks if hasattr(cb, "state_dict")
            },
            "rng": capture_rng_state(),
            "config": self.config or {},
            "tracking_run_id": self.logger.run_id or "",
            "metrics": dict(self.callback_metrics),
            "progress": self.progress.state_dict(
                batches_per_epoch=self.num_training_batches,
                accumulate=self.accumulate_grad_batches,
                elapsed=time.monotonic() - self._started,
            ),
        }
        return save_checkpoint(state, path)

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        """Send metrics to the logger (batched there; never blocks the loop on I/O)."""
        self.logger.log_metrics(metrics, step=step)

    @property
    def checkpoint_callback(self) -> ModelCheckpoint | None:
        """The first :class:`ModelCheckpoint` among the callbacks, if any."""
        return next((cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint)), None)

    # ------------------------------------------------------------------ fit
    def _fit(self, module: TrainingModule, datamodule: Any, ckpt_path: str | Path | None) -> None:
        self._module = module
        module.to(self.device)
        train_loader = self._loader(datamodule.train_dataloader(), "train")
        val_loader = self._loader(datamodule.val_dataloader(), "val")
        if self.overfit_batches:
            train_loader, val_loader = self._overfit_loaders(datamodule)
        self.num_training_batches = self._length(train_loader, "train")
        if self.num_training_batches == 0:
            raise UserError(
                "The training split has no batches; check the data and trainer.limit_train_batches."
            )
        steps_per_epoch = math.ceil(self.num_training_batches / self.accumulate_grad_batches)
        self.optimizer, self.scheduler_spec = module.configure_optimizers(
            TrainingPlan(max_epochs=self.max_epochs, steps_per_epoch=steps_per_epoch)
        )
        elapsed = 0.0
        if ckpt_path is not None:
            elapsed = self._restore(module, self._read_checkpoint(ckpt_path), full=True)
            log.info(
                "Resumed from %s at epoch %d, batch %d, step %d.",
                ckpt_path,
                self.current_epoch,
                self.progress.batch,
                self.global_step,
            )
        if self.world.distributed:
            self._ddp = data_parallel(module, self.device)
        # max_time is the whole fit's budget: the time before a resume counts too.
        self._started = started = time.monotonic() - elapsed
        self._agree(started)
        self.should_stop = self._reached_limits(started)  # e.g. resumed at max_steps
        self._call("on_fit_start", module)
        meter = EpochMeter(self.device)
        try:
            while not self.should_stop and self.current_epoch < self.max_epochs:
                self._call("on_train_epoch_start", module)
                meter.start()
                train_loss, rows = self._train_epoch(module, train_loader, started)
                perf = meter.stop(rows)
                metrics = {"train/loss": train_loss}
                if self.progress.batch < self.num_training_batches or self._preemption.signum:
                    # Stopped between two steps (max_steps, max_time, a signal): the epoch is not
                    # complete and counts for nothing; its position is saved to resume from.
                    self._stop_within_epoch(module, val_loader, metrics)
                    break
                if val_loader is not None and (self.current_epoch + 1) % self.check_val_every_n_epoch == 0:
                    val_metrics = self._evaluate(module, val_loader, "val")
                    metrics.update(val_metrics)
                    self._call("on_validation_end", module, val_metrics)
                self._step_scheduler("epoch", metrics)
                self.current_epoch += 1
                self.progress = EpochProgress()  # checkpoints from here on are at the epoch boundary
                self.callback_metrics = metrics
                self.history.append({"epoch": self.current_epoch, "step": self.global_step, **metrics})
                self.log_metrics({**metrics, **perf, "epoch": self.current_epoch}, step=self.global_step)
                self._call("on_train_epoch_end", module, metrics)
                self._agree(started)
                if self._preemption.signum:  # arrived during validation: stop at this boundary
                    self._stop_within_epoch(module, val_loader, metrics)
                self.should_stop = self.should_stop or self._reached_limits(started)
        except BaseException as exc:
            self._call("on_exception", module, exc)
            raise
        finally:
            self._ddp = None
        self._call("on_fit_end", module)

    def _train_epoch(
        self, module: TrainingModule, loader: Iterable[Any], started: float
    ) -> tuple[float, int]:
        """Train from ``self.progress`` to the epoch's end or a stop; the mean loss and rows trained."""
        module.train()
        start = self.progress.batch  # > 0 only in the first epoch after a mid-epoch resume
        skip = position_loader(loader, self.current_epoch, start)
        optimizer = self.optimizer
        assert optimizer is not None
        accumulate = self.accumulate_grad_batches
        total = self.num_training_batches
        loss_sum = torch.full((), self.progress.loss_sum, device=self.device)
        seen = start
        ddp = self._ddp
        # A DDP rank must not raise alone on a bad loss (the others would wait in the all-reduce):
        # it records it, and the ranks read it back together when the check is due.
        watch = LossWatch(
            self.device,
            sync_every=self.log_every_n_steps,
            accumulate=accumulate,
            eager=False if ddp is not None else None,
        )
        watch.start_epoch(self.global_step - start // accumulate)  # the step the epoch began at
        every = self.checkpoint_every_n_steps
        save_at = (self.global_step // every + 1) * every if every else -1
        preemption = self._preemption
        optimizer.zero_grad(set_to_none=True)
        batch: Any = None
        for batch_idx, batch in enumerate(itertools.islice(loader, skip, skip + total - start), start):
            self.batch_idx = batch_idx
            batch = move_to_device(batch, self.device)
            ends_step = not ((batch_idx + 1) % accumulate and batch_idx + 1 < total)
            if ddp is None:
                with self._autocast():
                    loss = module.training_step(batch)
                if bad := watch.observe(loss, batch_idx):
                    raise self._non_finite(bad)
                self.grad_scaler.scale(loss / accumulate if accumulate > 1 else loss).backward()
            else:
                loss = self._ddp_forward_backward(ddp, batch, batch_idx, watch, sync=ends_step)
            loss_sum += loss.detach()
            seen += 1
            if not ends_step:
                continue  # keep accumulating gradients
            self._optimizer_step(module.model, optimizer)
            self.global_step += 1
            self._step_scheduler("step", {})
            if ddp is not None:
                self._check_loss_everywhere(watch, self.global_step)
            elif bad := watch.poll(self.global_step):
                raise self._non_finite(bad)
            if self.global_step % self.log_every_n_steps == 0:
                self.log_metrics({"train/loss_step": float(loss.detach())}, step=self.global_step)
            self._call("on_train_batch_end", module, loss)
            if ddp is not None:
                self._agree(started)
            if self.global_step == save_at or preemption.signum:  # the only per-step cost of resuming
                if preemption.signum:
                    break  # fit saves this position and stops
                self.progress = EpochProgress(seen, self._loss_total(loss_sum))
                self._save_last()
                save_at += every
            if self._reached_limits(started):
                self.should_stop = True
                break
        if ddp is not None:
            self._check_loss_everywhere(watch, None)
        elif bad := watch.poll():
            raise self._non_finite(bad)
        total_loss = self._loss_total(loss_sum)  # waits for the device: the epoch's timing ends here
        self.progress = EpochProgress(seen, total_loss)
        last = seen == _full_length(loader)  # the loader's final batch may be partial
        rows = rows_trained(
            seen - start, batch, ends_epoch=last, batch_size=getattr(loader, "batch_size", None)
        )
        return total_loss / max(seen, 1), rows * self.world.world_size  # every rank trains as many

    def _ddp_forward_backward(
        self, ddp: DistributedDataParallel, batch: Any, batch_idx: int, watch: LossWatch, *, sync: bool
    ) -> torch.Tensor:
        """One batch through DDP; gradients are averaged across ranks only on a step's last batch."""
        accumulate = self.accumulate_grad_batches
        # Inside an accumulation window no_sync skips the all-reduce: it runs once, on the last batch.
        with contextlib.nullcontext() if sync else ddp.no_sync():
            with self._autocast():
                loss = ddp(batch)
            watch.observe(loss, batch_idx)  # deferred: it records, the ranks raise together
            self.grad_scaler.scale(loss / accumulate if accumulate > 1 else loss).backward()
        return loss

    def _check_loss_everywhere(self, watch: LossWatch, global_step: int | None) -> None:
        """DDP: raise on every rank when any recorded a non-finite loss, at the steps the check is due."""
        if global_step is not None and global_step % watch.sync_every:
            return  # not due, on any rank: the same steps everywhere
        bad = watch.poll(global_step)
        (anywhere,) = agree_max([bad is not None])
        if anywhere:
            raise self._non_finite(bad)

    def _loss_total(self, loss_sum: torch.Tensor) -> float:
        """The epoch's summed batch losses; in DDP the mean over ranks, the sum one process would have."""
        if self._ddp is not None:
            loss_sum = mean_across(loss_sum)
        return float(loss_sum)

    def _agree(self, started: float) -> None:
        """DDP: one small all-reduce on the CPU, so every rank acts on the same signal and ``max_time``.

        The first signal any rank received, and the time limit by the slowest clock, become every
        rank's; a rank that stopped alone would leave the others waiting in the next all-reduce.
        """
        if not self.world.distributed:
            return
        signum, out_of_time = agree_max([self._preemption.received, self._time_is_up(started)])
        self._preemption.signum = signum
        self._out_of_time = bool(out_of_time)

    def _stop_on_late_signal(self) -> None:
        """A signal that came after the loop's last look (during ``on_fit_end``, say) still stops.

        Otherwise it would be lost: the handler only set a flag, and nothing reads it after the
        loop, so a Ctrl-C during the last epoch's end would let a sweep run on to its next trial.
        Training is complete here; the position saved is its end.
        """
        self._agree(self._started)
        signum = self._preemption.signum
        if signum:
            path = self._save_last(always=True)
            if self.world.is_rank_zero:
                log.warning("Stopped by signal %d after the last step; saved %s.", signum, path)
            raise Preempted(signum, path)

    def _stop_within_epoch(self, module: TrainingModule, val_loader: Any, metrics: dict[str, float]) -> None:
        """Save the position the loop stopped at; raise on a signal, else score the weights once.

        After max_steps or max_time the run still ends with validation metrics, but no epoch
        hook or epoch schedule runs and no epoch is counted: the saved state is exactly the one a
        run that never stopped had at this step.

        Raises:
            Preempted: the stop came from SIGTERM or SIGINT.
        """
        signum = self._preemption.signum
        path = self._save_last(always=bool(signum))
        if signum:
            if self.world.is_rank_zero:  # it speaks for every process of a DDP run
                log.warning("Stopped by signal %d at step %d; saved %s.", signum, self.global_step, path)
            raise Preempted(signum, path)
        if val_loader is not None:
            metrics.update(self._evaluate(module, val_loader, "val"))
        self.callback_metrics = metrics
        fraction = self.progress.batch / self.num_training_batches
        self.history.append({"epoch": self.current_epoch + fraction, "step": self.global_step, **metrics})
        self.log_metrics(metrics, step=self.global_step)

    def _save_last(self, *, always: bool = True) -> Path | None:
        """Write ``last.ckpt`` (where ModelCheckpoint keeps it) at the current position.

        Args:
            always: save even when no ModelCheckpoint asks for ``last.ckpt`` and no periodic
                saving is on (a signal, a periodic save); never in a fast_dev_run.
        """
        callback = self.checkpoint_callback
        wanted = always or self.checkpoint_every_n_steps > 0 or (callback is not None and callback.save_last)
        if self.fast_dev_run or not wanted:
            return None
        if callback is not None:
            return callback.write_last(self)
        return self.save_checkpoint(self.default_root_dir / "checkpoints" / "last.ckpt")

    def _optimizer_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        scaler = self.grad_scaler
        if self.gradient_clip_val > 0:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            if self.gradient_clip_algorithm == "norm":
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.gradient_clip_val)
            else:
                torch.nn.utils.clip_grad_value_(model.parameters(), self.gradient_clip_val)
        if scaler.is_enabled():
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def _step_scheduler(self, interval: str, metrics: dict[str, float]) -> None:
        spec = self.scheduler_spec
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

    def _reached_limits(self, started: float) -> bool:
        if 0 <= self.max_steps <= self.global_step:
            return True
        if self.world.distributed:
            return self._out_of_time  # as the ranks agreed: their clocks differ
        return self._time_is_up(started)

    def _time_is_up(self, started: float) -> bool:
        return self.max_time is not None and time.monotonic() - started >= self.max_time

    def _non_finite(self, bad: BadLoss | None) -> NonFiniteLossError:
        """The error for a non-finite loss; ``None``: another process of a DDP run found it."""
        saved = ""
        callback = self.checkpoint_callback
        if callback is not None and callback.last_model_path:
            saved = f" The last good checkpoint is kept at {callback.last_model_path}."
        where = (
            f"step {bad.step} (batch {bad.batch_idx})"
            if bad is not None
            else f"step {self.global_step} on another process"
        )
        value = bad.value if bad is not None else "non-finite"
        return NonFiniteLossError(
            f"The training loss became {value} at epoch {self.current_epoch + 1}, "
            f"{where}.{saved} Usual fixes: lower the learning "
            "rate (optimizer.lr), clip gradients (trainer.gradient_clip_val=1.0), check the inputs "
            "for NaN or huge values, or train in full precision (trainer.precision=32)."
        )

    # ------------------------------------------------------------------ evaluation
    def _evaluate_split(
        self, module: TrainingModule, datamodule: Any, stage: str, ckpt_path: str | Path | None
    ) -> dict[str, float]:
        self._prepare(module, ckpt_path)
        loader = self._loader(getattr(datamodule, f"{stage}_dataloader")(), stage)
        if loader is None:
            raise UserError(f"The data has no {stage} split; set data.{stage}_fraction above 0.")
        with self._switches():
            return self._evaluate(module, loader, stage)

    def _prepare(self, module: TrainingModule, ckpt_path: str | Path | None) -> None:
        """Place the module and load weights for a stand-alone validate/test/predict."""
        self._module = module
        module.to(self.device)
        if ckpt_path is None:
            return
        if ckpt_path == "best":
            callback = self.checkpoint_callback
            if callback is None or not callback.best_model_path:
                raise UserError("ckpt_path='best' needs a ModelCheckpoint with a monitor that saved a file.")
            ckpt_path = callback.best_model_path
        self._restore(module, self._read_checkpoint(ckpt_path), full=False)

    @staticmethod
    def _read_checkpoint(path: str | Path) -> dict[str, Any]:
        # Rank 0 reads and broadcasts: the checkpoint is in its run folder, and the other ranks
        # may be on machines that never see that disk (a multi-node torchrun).
        return read_on_rank_zero(lambda: load_checkpoint(path))

    def _evaluate(self, module: TrainingModule, loader: Iterable[Any], stage: str) -> dict[str, float]:
        outputs, labels, mean_loss = self._run_evaluation(module, loader, stage, with_labels=True)
        metrics = {"loss": mean_loss, **module.objective.metrics(outputs, labels)}
        return {f"{stage}/{name}": value for name, value in metrics.items()}

    def _run_evaluation(
        self, module: TrainingModule, loader: Iterable[Any], stage: str, *, with_labels: bool
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        was_training = module.training
        gather = self.world.distributed and stage != "predict"
        if gather:
            broadcast_buffers(module.model)
        module.eval()
        total = self._length(loader, stage)
        outputs, labels = [], []
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        rows = 0
        with torch.inference_mode():
            for batch in itertools.islice(loader, total):
                x, y = move_to_device(batch, self.device)
                with self._autocast():
                    loss, out = module.evaluation_step((x, y))
                outputs.append(out.float())
                labels.append(y)
                loss_sum += loss.double() * len(x)
                rows += len(x)
        module.train(was_training)
        if gather:  # a rank may hold no rows of a small split; the split as a whole must
            merged, merged_labels, loss_total, rows = gather_evaluation(
                torch.cat(outputs).cpu() if outputs else None,
                torch.cat(labels).cpu() if labels else None,
                float(loss_sum),
                rows,
            )
            if merged is not None and merged_labels is not None:
                return merged, merged_labels, loss_total / rows
        elif outputs:
            return torch.cat(outputs).cpu(), torch.cat(labels).cpu(), float(loss_sum) / rows
        raise UserError(f"The {stage} split has no rows; check the data and the split fractions.")

    # ------------------------------------------------------------------ helpers
    def _loader(self, loader: Any, stage: str) -> Any:
        if loader is None:
            return None
        return self._shard(self._to_device(loader), stage)

    def _to_device(self, loader: Any) -> Any:
        if hasattr(loader, "to"):
            loader = loader.to(self.device)  # tabular data moves to the device once
        return loader

    def _shard(self, loader: Any, stage: str) -> Any:
        """This rank's part of a split in DDP; the loader itself in one process and for predict.

        Training shards are padded to one length (every rank takes as many steps); evaluation
        shards are not (every row counts once when the ranks' rows are gathered).
        """
        if not self.world.distributed or stage == "predict":
            return loader
        if hasattr(loader, "shard"):
            return loader.shard(self.world.rank, self.world.world_size, even=stage == "train")
        if isinstance(getattr(loader, "sampler", None), DistributedSampler):
            return loader  # sharded by whoever built it
        raise UserError(
            f"The {stage} loader ({type(loader).__name__}) cannot be split across the "
            f"{self.world.world_size} processes of a DDP run: give it a shard(rank, world_size, even=...) "
            "method like trainer.data.TensorBatches, or a torch DistributedSampler."
        )

    def _overfit_loaders(self, datamodule: Any) -> tuple[Any, Any]:
        loader = datamodule.train_dataloader()
        if hasattr(loader, "without_shuffle"):
            loader = loader.without_shuffle()
        self.limits["train"] = self.limits["val"] = self.overfit_batches
        loader = self._to_device(loader)
        return self._shard(loader, "train"), self._shard(loader, "val")

    def _length(self, loader: Any, stage: str) -> int:
        try:
            total = len(loader)
        except TypeError:  # an iterable without a length: take the limit as a count
            limit = self.limits[stage]
            return int(limit) if not isinstance(limit, float) else 2**62
        return _limit(total, self.limits[stage])

    def _restore(self, module: TrainingModule, state: dict[str, Any], *, full: bool) -> float:
        """Load ``state`` (the weights only unless ``full``); return the fitting time it had taken."""
        try:
            module.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise UserError(
                f"The checkpoint's weights do not fit this model ({exc}). Use the model settings "
                "the checkpoint was trained with (they are stored in it)."
            ) from exc
        self.config = self.config or state["config"] or None
        if not full:
            return 0.0
        progress = state["progress"]
        self.progress = EpochProgress.from_state(
            progress, batches_per_epoch=self.num_training_batches, accumulate=self.accumulate_grad_batches
        )
        if self.optimizer is not None and state["optimizer"]:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler_spec is not None and state["scheduler"]:
            self._restore_scheduler(self.scheduler_spec.scheduler, state["scheduler"])
        if self.grad_scaler.is_enabled() and state["grad_scaler"]:
            self.grad_scaler.load_state_dict(state["grad_scaler"])
        self.current_epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.callback_metrics = dict(state["metrics"])
        saved = state["callbacks"]
        for cb in self.callbacks:
            if hasattr(cb, "load_state_dict") and _state_key(cb) in saved:
                cb.load_state_dict(saved[_state_key(cb)])
        restore_rng_state(state["rng"])
        if self.world.distributed and self.device.type == "cuda" and state["rng"].get("cuda"):
            # Rank 0 saved the stream of its own GPU; every rank drew as much from its own.
            torch.cuda.set_rng_state(state["rng"]["cuda"][0], self.device)
        return float(progress.get("elapsed", 0.0))

    @staticmethod
    def _restore_scheduler(scheduler: Any, saved: dict[str, Any]) -> None:
        """Load a schedule's state, refusing one planned for a different run length.

        1cycle and cosine are sized from the whole run; the saved state carries the old size,
        so resuming to more epochs would run past the schedule's end (1cycle raises deep in
        torch, cosine silently turns back up).
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

    @contextmanager
    def _switches(self) -> Iterator[None]:
        """Deterministic kernels, cuDNN autotuning and TF32 as configured; restored on exit."""
        with (
            deterministic_algorithms(self.deterministic),
            backend_switches(cudnn_benchmark=self.cudnn_benchmark, tf32=self.tf32),
        ):
            yield

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(self, *args)
