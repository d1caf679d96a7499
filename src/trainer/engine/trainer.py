"""The Trainer: fit, validate, test and predict in one explicit loop.

Read ``fit`` top to bottom: restore, then for each epoch train, validate, step the
schedule, notify callbacks. Callbacks only observe and signal (``should_stop``); the loop
itself never hides in them.

A run can stop between two optimizer steps of an epoch (``max_steps``, ``max_time``, SIGTERM or
SIGINT) and save that position; ``checkpoint_every_n_steps`` saves it periodically. A resume
from such a checkpoint continues at the next batch with the same order, random streams and
schedule, so it ends with the same weights as a run that never stopped.

The loop does not know how many processes train the run: its strategy (``engine.strategy``: one
process, or DDP under torchrun) does what depends on them. What a checkpoint holds is
``engine.training_state``; how a loader is adapted, ``engine.loaders``.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from trainer.engine.checkpoint import load_checkpoint, save_checkpoint
from trainer.engine.cpu_threads import choose_cpu_threads, cpu_threads
from trainer.engine.device import move_to_device
from trainer.engine.divergence import divergence
from trainer.engine.evaluation import evaluation_pass
from trainer.engine.loaders import (
    batch_size_of,
    batches_to_run,
    full_length,
    position_loader,
    to_device,
    unshuffled,
)
from trainer.engine.loss_watch import BadLoss, LossWatch, non_finite_error
from trainer.engine.module import TrainingModule, TrainingPlan
from trainer.engine.optimization import step_scheduler
from trainer.engine.performance import EpochMeter, compiled_forward, rows_trained
from trainer.engine.preemption import Preempted
from trainer.engine.resume_state import EpochProgress
from trainer.engine.trainer_setup import TrainerSetup
from trainer.engine.training_state import capture_training_state, restore_training_state, restore_weights
from trainer.errors import NonFiniteLossError, UserError

log = logging.getLogger(__name__)

#: A datamodule's ``val_dataloader``, ``test_dataloader`` or ``predict_dataloader``.
LoaderFactory = Callable[[], Any]


class Trainer(TrainerSetup):
    """Runs a :class:`TrainingModule` over a datamodule's loaders.

    Its options (the constructor's arguments), devices, processes and loop state are set up by
    :class:`~trainer.engine.trainer_setup.TrainerSetup`; this class is what it does.
    """

    # ------------------------------------------------------------------ public API
    def fit(self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None) -> None:
        """Train ``module`` on ``datamodule``; resume from ``ckpt_path`` when given.

        Raises:
            Preempted: SIGTERM or SIGINT arrived; a checkpoint of the position was saved first.
        """
        weights = sum(p.numel() for p in module.model.parameters())
        threads = choose_cpu_threads(
            self.cpu_threads, device=self.device, parameters=weights, processes=self.world_size
        )
        with (
            self._switches(),
            cpu_threads(threads),
            compiled_forward(module.model, self.compile),
            self._preemption,
        ):
            self._fit(module, datamodule, ckpt_path)
            self._stop_on_late_signal()

    def validate(
        self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None
    ) -> dict[str, float]:
        """Metrics of the validation split, prefixed ``val/``."""
        return self._evaluate_split(module, datamodule.val_dataloader, "val", ckpt_path)

    def test(
        self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None
    ) -> dict[str, float]:
        """Metrics of the test split, prefixed ``test/``; ``ckpt_path='best'`` uses the best checkpoint."""
        metrics = self._evaluate_split(module, datamodule.test_dataloader, "test", ckpt_path)
        self._call("on_test_end", module, metrics)
        return metrics

    def predict(
        self, module: TrainingModule, datamodule: Any, *, ckpt_path: str | Path | None = None
    ) -> torch.Tensor:
        """The objective's predictions (probabilities, values or per-row errors) for the predict split.

        In a DDP run this process predicts the whole split alone, with no collective: reporting
        calls it on rank 0 only.
        """
        loader = self._prepare(module, datamodule.predict_dataloader, "predict", ckpt_path)
        with self._switches():
            outputs, _, _ = self._evaluation_pass(module, loader, "predict")
        return module.objective.predict(outputs)

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the whole training state to ``path`` (see ``engine.training_state``)."""
        if self._module is None:
            raise RuntimeError("save_checkpoint needs a module: call fit first")
        if not self.strategy.is_rank_zero:
            return Path(path)  # one writer; every rank holds the same weights
        # A resume replays only what comes after this checkpoint: what was logged before it
        # must be on disk before the checkpoint is.
        self.logger.persist()
        elapsed = time.monotonic() - self._started
        return save_checkpoint(capture_training_state(self, self._module.model, elapsed=elapsed), path)

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        """Send metrics to the logger (batched there; never blocks the loop on I/O)."""
        self.logger.log_metrics(metrics, step=step)

    # ------------------------------------------------------------------ fit
    def _fit(self, module: TrainingModule, datamodule: Any, ckpt_path: str | Path | None) -> None:
        self._module = module
        module.to(self.device)
        train_loader = self._loader(datamodule.train_dataloader(), "train")
        val_loader = self._loader(datamodule.val_dataloader(), "val")
        if self.overfit_batches:
            train_loader, val_loader = self._overfit_loaders(datamodule)
        self.num_training_batches = batches_to_run(train_loader, self.limits["train"])
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
            elapsed = restore_training_state(self, module.model, self._read_checkpoint(ckpt_path))
            log.info(
                "Resumed from %s at epoch %d, batch %d, step %d.",
                ckpt_path,
                self.current_epoch,
                self.progress.batch,
                self.global_step,
            )
        self._training_step = self.strategy.wrap(module)
        # max_time is the whole fit's budget: the time before a resume counts too.
        self._started = time.monotonic() - elapsed
        self._deadline = None if self.max_time is None else self._started + self.max_time
        self.strategy.agree_to_stop(self._preemption, self._deadline)
        self.should_stop = self._reached_limits()  # e.g. resumed at max_steps
        self._call("on_fit_start", module)
        meter = EpochMeter(self.device)
        try:
            while not self.should_stop and self.current_epoch < self.max_epochs:
                self._call("on_train_epoch_start", module)
                meter.start()
                train_loss, rows = self._train_epoch(module, train_loader)
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
                step_scheduler(self.scheduler_spec, "epoch", metrics)
                self.current_epoch += 1
                self.progress = EpochProgress()  # checkpoints from here on are at the epoch boundary
                self.callback_metrics = metrics
                self.history.append({"epoch": self.current_epoch, "step": self.global_step, **metrics})
                self.log_metrics({**metrics, **perf, "epoch": self.current_epoch}, step=self.global_step)
                self._stop_if_diverged()
                self._call("on_train_epoch_end", module, metrics)
                self.strategy.agree_to_stop(self._preemption, self._deadline)
                if self._preemption.signum:  # arrived during validation: stop at this boundary
                    self._stop_within_epoch(module, val_loader, metrics)
                self.should_stop = self.should_stop or self._reached_limits()
        except BaseException as exc:
            self._call("on_exception", module, exc)
            raise
        finally:
            self.strategy.unwrap()
            self._training_step = None
        self._call("on_fit_end", module)

    def _train_epoch(self, module: TrainingModule, loader: Iterable[Any]) -> tuple[float, int]:
        """Train from ``self.progress`` to the epoch's end or a stop; the mean loss and rows trained."""
        module.train()
        start = self.progress.batch  # > 0 only in the first epoch after a mid-epoch resume
        skip = position_loader(loader, self.current_epoch, start)
        optimizer, forward = self.optimizer, self._training_step
        assert optimizer is not None and forward is not None
        strategy, scaler, preemption = self.strategy, self.grad_scaler, self._preemption
        optimizer_step = self._optimizer_step
        accumulate = self.accumulate_grad_batches
        total = self.num_training_batches
        loss_sum = torch.full((), self.progress.loss_sum, device=self.device)
        seen = start
        # A DDP rank must not raise alone on a bad loss (the others would wait in the all-reduce):
        # its watch records it, and the ranks read it back together when the check is due.
        watch = LossWatch(
            self.device,
            sync_every=self.log_every_n_steps,
            accumulate=accumulate,
            eager=strategy.eager_loss_check,
        )
        watch.start_epoch(self.global_step - start // accumulate)  # the step the epoch began at
        every = self.checkpoint_every_n_steps
        save_at = (self.global_step // every + 1) * every if every else -1
        optimizer.zero_grad(set_to_none=True)
        batch: Any = None
        for batch_idx, batch in enumerate(itertools.islice(loader, skip, skip + total - start), start):
            self.batch_idx = batch_idx
            batch = move_to_device(batch, self.device)
            ends_step = not ((batch_idx + 1) % accumulate and batch_idx + 1 < total)
            # Inside an accumulation window DDP skips the all-reduce: it runs once, on the last batch.
            with strategy.no_backward_sync(not ends_step):
                with self._autocast():
                    loss = forward(batch)
                if bad := watch.observe(loss, batch_idx):
                    raise self._non_finite(bad)
                scaler.scale(loss / accumulate if accumulate > 1 else loss).backward()
            loss_sum += loss.detach()
            seen += 1
            if not ends_step:
                continue  # keep accumulating gradients
            optimizer_step(module.model, optimizer)
            self.global_step += 1
            step_scheduler(self.scheduler_spec, "step", {})
            if bad := strategy.poll_loss(watch, self.global_step):
                raise self._non_finite(bad)
            if self.global_step % self.log_every_n_steps == 0:
                self.log_metrics({"train/loss_step": float(loss.detach())}, step=self.global_step)
            self._call("on_train_batch_end", module, loss)
            strategy.agree_to_stop(preemption, self._deadline)
            if self.global_step == save_at or preemption.signum:  # the only per-step cost of resuming
                if preemption.signum:
                    break  # fit saves this position and stops
                self.progress = EpochProgress(seen, float(strategy.reduce_mean(loss_sum)))
                self._save_last()
                save_at += every
            if self._reached_limits():
                self.should_stop = True
                break
        if bad := strategy.poll_loss(watch, None):
            raise self._non_finite(bad)
        # The epoch's summed losses (in DDP the mean over ranks: the sum one process would have).
        total_loss = float(strategy.reduce_mean(loss_sum))  # waits for the device: timing ends here
        self.progress = EpochProgress(seen, total_loss)
        last = seen == full_length(loader)  # the loader's final batch may be partial
        rows = rows_trained(seen - start, batch, ends_epoch=last, batch_size=batch_size_of(loader))
        return total_loss / max(seen, 1), rows * self.world.world_size  # every rank trains as many

    def _stop_if_diverged(self) -> None:
        """A finite loss grown by orders of magnitude: say so, tag the run, stop (every rank sees
        the same reduced loss, so all stop together)."""
        if self.diverged is not None:
            return
        self.diverged = divergence(self.history)
        if self.diverged is not None:
            log.warning("Stopping: %s.", self.diverged)
            self.logger.set_tags({"training.diverged": self.diverged})
            self.should_stop = True

    def _reached_limits(self) -> bool:
        return 0 <= self.max_steps <= self.global_step or self.strategy.out_of_time(self._deadline)

    def _non_finite(self, bad: BadLoss) -> NonFiniteLossError:
        callback = self.checkpoint_callback
        last = callback.last_model_path if callback is not None else ""
        return non_finite_error(
            bad, epoch=self.current_epoch, global_step=self.global_step, last_checkpoint=last
        )

    # ------------------------------------------------------------------ stops
    def _save_last(self, *, always: bool = True) -> Path | None:
        """Write ``last.ckpt`` (where the checkpoint callback keeps it) at the current position.

        Args:
            always: save even when no checkpoint callback asks for ``last.ckpt`` and no periodic
                saving is on (a signal, a periodic save); never in a fast_dev_run.
        """
        callback = self.checkpoint_callback
        wanted = always or self.checkpoint_every_n_steps > 0 or (callback is not None and callback.save_last)
        if self.fast_dev_run or not wanted:
            return None
        if callback is not None:
            return callback.write_last(self)
        return self.save_checkpoint(self.default_root_dir / "checkpoints" / "last.ckpt")

    def _stop_on_late_signal(self) -> None:
        """A signal that came after the loop's last look (during ``on_fit_end``, say) still stops.

        Otherwise it would be lost: the handler only set a flag, and nothing reads it after the
        loop, so a Ctrl-C during the last epoch's end would let a sweep run on to its next trial.
        Training is complete here; the position saved is its end.
        """
        self.strategy.agree_to_stop(self._preemption, self._deadline)
        signum = self._preemption.signum
        if signum:
            path = self._save_last(always=True)
            if self.strategy.is_rank_zero:
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
            if self.strategy.is_rank_zero:  # it speaks for every process of a DDP run
                log.warning("Stopped by signal %d at step %d; saved %s.", signum, self.global_step, path)
            raise Preempted(signum, path)
        if val_loader is not None:
            metrics.update(self._evaluate(module, val_loader, "val"))
        self.callback_metrics = metrics
        fraction = self.progress.batch / self.num_training_batches
        self.history.append({"epoch": self.current_epoch + fraction, "step": self.global_step, **metrics})
        self.log_metrics(metrics, step=self.global_step)

    # ------------------------------------------------------------------ evaluation
    def _evaluate_split(
        self, module: TrainingModule, make_loader: LoaderFactory, stage: str, ckpt_path: str | Path | None
    ) -> dict[str, float]:
        loader = self._prepare(module, make_loader, stage, ckpt_path)
        with self._switches():
            return self._evaluate(module, loader, stage)

    def _prepare(
        self, module: TrainingModule, make_loader: LoaderFactory, stage: str, ckpt_path: str | Path | None
    ) -> Any:
        """Place the module and load weights for a stand-alone validate/test/predict; its loader."""
        self._module = module
        module.to(self.device)
        if ckpt_path == "best":
            callback = self.checkpoint_callback
            if callback is None or not callback.best_model_path:
                raise UserError("ckpt_path='best' needs a ModelCheckpoint with a monitor that saved a file.")
            ckpt_path = callback.best_model_path
        if ckpt_path is not None:
            restore_weights(self, module.model, self._read_checkpoint(ckpt_path))
        loader = self._loader(make_loader(), stage)
        if loader is None:
            split = "test" if stage == "predict" else stage  # predict serves the test rows
            raise UserError(f"The data has no {stage} split; set data.{split}_fraction above 0.")
        return loader

    def _read_checkpoint(self, path: str | Path) -> dict[str, Any]:
        return self.strategy.read_on_rank_zero(lambda: load_checkpoint(path))

    def _evaluate(self, module: TrainingModule, loader: Iterable[Any], stage: str) -> dict[str, float]:
        outputs, labels, mean_loss = self._evaluation_pass(module, loader, stage)
        metrics = {"loss": mean_loss, **module.objective.metrics(outputs, labels)}
        return {f"{stage}/{name}": value for name, value in metrics.items()}

    def _evaluation_pass(
        self, module: TrainingModule, loader: Iterable[Any], stage: str
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        batches = batches_to_run(loader, self.limits[stage])
        return evaluation_pass(
            module, loader, batches=batches, stage=stage, strategy=self.strategy, autocast=self._autocast
        )

    # ------------------------------------------------------------------ helpers
    def _loader(self, loader: Any, stage: str) -> Any:
        """The loader on the device, and this process's shard of it."""
        return None if loader is None else self.strategy.shard(to_device(loader, self.device), stage)

    def _overfit_loaders(self, datamodule: Any) -> tuple[Any, Any]:
        self.limits["train"] = self.limits["val"] = self.overfit_batches
        loader = to_device(unshuffled(datamodule.train_dataloader()), self.device)
        return self.strategy.shard(loader, "train"), self.strategy.shard(loader, "val")

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(self, *args)
