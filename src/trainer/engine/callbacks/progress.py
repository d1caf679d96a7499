"""A progress bar on a terminal (batches, loss, rate, elapsed, ETA) with one compact line per epoch
kept on screen above it; one plain line per epoch in logs and pipes."""

from __future__ import annotations

import logging
import math
import sys
from typing import TYPE_CHECKING, Any

from trainer.engine.callback_protocols import RanksCheckpoints
from trainer.engine.callbacks.base import Callback

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from trainer.engine.module import TrainingModule
    from trainer.engine.trainer import Trainer

log = logging.getLogger("trainer.progress")


def _format(metrics: dict[str, float], keys: int = 6) -> str:
    shown = [(k, v) for k, v in metrics.items() if not k.startswith("lr")][:keys]
    return "  ".join(f"{k}={v:.4g}" if math.isfinite(v) else f"{k}={v}" for k, v in shown)


def epoch_line(epoch: int, epochs: int, metrics: dict[str, float], *, monitor: str | None = None) -> str:
    """``epoch 3/30  train/loss=0.193  val/loss=0.185  val/ap=0.976``: the losses and the monitored
    metric, short enough for an 80-column terminal (every metric is in the run's files)."""
    keys = ["train/loss", "val/loss", *([monitor] if monitor else [])]
    shown = {k: metrics[k] for k in dict.fromkeys(keys) if k in metrics}
    return f"epoch {epoch}/{epochs}  {_format(shown, keys=3)}".rstrip()


class _ConsoleStream:
    """A stream for logging handlers that writes above a live rich display, not into its line."""

    def __init__(self, console: Any) -> None:
        self.console = console

    def write(self, text: str) -> int:
        self.console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        return None


def _rate_column() -> Any:
    """A rich column with the batches per second (rich's own speed column counts bytes)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} batch/s" if speed else "- batch/s", style="progress.data.speed")

    return RateColumn()


class ProgressBar(Callback):
    """Show progress; quiet (an epoch summary line through logging) when not on a terminal.

    Args:
        refresh_every_n_steps: how often the bar and its loss are redrawn; reading the loss
            synchronises the GPU, so it is not done on every step.
        force_terminal: draw the bar even when stdout is not a TTY (``None``: detect).
    """

    def __init__(self, *, refresh_every_n_steps: int = 10, force_terminal: bool | None = None) -> None:
        self.refresh_every_n_steps = max(1, refresh_every_n_steps)
        self.force_terminal = force_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._streams: list[tuple[logging.StreamHandler[Any], Any]] = []  # handlers moved above the bar

    @property
    def interactive(self) -> bool:
        if self.force_terminal is not None:
            return self.force_terminal
        return sys.stdout.isatty()

    def on_fit_start(self, trainer: Trainer, module: TrainingModule) -> None:
        if not self.interactive or not trainer.is_global_zero:  # one bar for a DDP run: rank 0's
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            _rate_column(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            transient=False,
            # force_terminal=true draws the bar in a pipe too (CI logs, notebooks' captured output).
            console=Console(force_terminal=True) if self.force_terminal else None,
        )
        # Before start(): a live display swaps sys.stdout and sys.stderr for its own proxies.
        self._move_log_handlers(self._progress.console)
        self._progress.start()

    def _move_log_handlers(self, console: Any) -> None:
        """Console log lines go above the bar while it is live; a plain handler writing to the
        terminal would glue its line onto the bar's."""
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr):
                self._streams.append((handler, handler.setStream(_ConsoleStream(console))))

    def on_train_epoch_start(self, trainer: Trainer, module: TrainingModule) -> None:
        if self._progress is None:
            return
        epoch = f"{trainer.current_epoch + 1}/{trainer.max_epochs}"  # the epoch under way, from 1
        total = trainer.num_training_batches or None
        if self._task is None:  # one bar for the whole fit, reset each epoch: it stays intact
            self._task = self._progress.add_task("train", total=total, epoch=epoch, info="")
        else:
            self._progress.reset(self._task, total=total, epoch=epoch, info="")

    def on_train_batch_end(self, trainer: Trainer, module: TrainingModule, loss: Any) -> None:
        if self._progress is None or self._task is None:
            return
        if trainer.global_step % self.refresh_every_n_steps == 0:
            self._progress.update(
                self._task, completed=trainer.batch_idx + 1, info=f"loss={float(loss.detach()):.4g}"
            )

    def on_train_epoch_end(self, trainer: Trainer, module: TrainingModule, metrics: dict[str, float]) -> None:
        # current_epoch counts the epochs completed: this one, from 1, as the bar did.
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=trainer.num_training_batches, info="")
            checkpoint = trainer.checkpoint_callback
            line = epoch_line(
                trainer.current_epoch,
                trainer.max_epochs,
                metrics,
                monitor=checkpoint.monitor if isinstance(checkpoint, RanksCheckpoints) else None,
            )
            self._progress.console.print(line, markup=False, highlight=False)  # above the bar, kept
        # The full summary goes to the run's log file either way (and to a pipe's output).
        (log.debug if self._progress is not None else log.info)(
            "epoch %d/%d  %s", trainer.current_epoch, trainer.max_epochs, _format(metrics)
        )

    def _close(self) -> None:
        for handler, stream in self._streams:
            handler.setStream(stream)
        self._streams.clear()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def on_fit_end(self, trainer: Trainer, module: TrainingModule) -> None:
        self._close()

    def on_exception(self, trainer: Trainer, module: TrainingModule, exception: BaseException) -> None:
        self._close()
