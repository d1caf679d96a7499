"""The learning-rate range test (Leslie Smith; fastai's ``lr_find``).

Train a copy of the model for a few hundred steps while the learning rate grows
exponentially from ``min_lr`` to ``max_lr``; record an exponentially smoothed loss; stop when
it diverges. The loss falls once the rate is large enough to learn and blows up once it is too
large; a good rate lies on the falling stretch, well before the minimum.

The suggestion is the rate at the smoothed loss's minimum divided by 10 (Smith's and fastai's
long-standing rule): the minimum sits at the edge of divergence, and a tenth of it is on the
falling stretch. The steepest-descent point is reported beside it.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from trainer.data.loader_protocol import EpochSeeded
from trainer.engine.device import move_to_device
from trainer.engine.module import Batch, TrainingModule
from trainer.errors import ConfigError


@dataclass
class LRFindResult:
    """What the range test measured.

    Attributes:
        lrs: the learning rate of each step taken.
        losses: the raw training loss of each step.
        smoothed: the bias-corrected exponential moving average of the loss.
        suggestion: the learning rate to use (minimum's rate / 10).
        min_loss_lr: the rate at the smoothed loss's minimum.
        steepest_lr: the rate where the smoothed loss falls fastest against log(lr), if found.
        stopped: why the test ended: ``diverged``, ``non-finite loss`` or ``max_lr reached``.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float = math.nan
    min_loss_lr: float = math.nan
    steepest_lr: float | None = None
    stopped: str = "max_lr reached"

    @property
    def still_falling(self) -> bool:
        """True when the loss was lowest at the very end: ``max_lr`` was not large enough."""
        return self.stopped == "max_lr reached" and bool(self.lrs) and self.min_loss_lr == self.lrs[-1]


def _cycle(loader: Iterable[Batch]) -> Iterator[Batch]:
    """Batches without end, a new epoch (new shuffle) each time the loader runs out."""
    for epoch in itertools.count():
        if isinstance(loader, EpochSeeded):
            loader.set_epoch(epoch)
        yield from loader


def check_range(*, min_lr: float, max_lr: float, num_steps: int, beta: float) -> None:
    """Raise a ConfigError naming the ``lr_find.*`` option that makes no sense."""
    if not 0 < min_lr < max_lr:
        raise ConfigError(f"lr_find.min_lr={min_lr} and lr_find.max_lr={max_lr} need 0 < min_lr < max_lr.")
    if num_steps < 10:
        raise ConfigError(f"lr_find.num_steps={num_steps} is too few; use 100 or more.")
    if not 0 <= beta < 1:
        raise ConfigError(f"lr_find.beta={beta} must be in [0, 1).")


def lr_range_test(
    module: TrainingModule,
    loader: Iterable[Batch],
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 200,
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    clip_norm: float = 0.0,
    device: torch.device | str = "cpu",
) -> LRFindResult:
    """Run the range test on a deep copy of ``module``; the module itself is left untouched.

    Args:
        module: model, objective and optimizer factory (the optimizer of the run is used).
        loader: training batches; iterated again (next epoch) when exhausted.
        min_lr: the first learning rate.
        max_lr: the last learning rate, reached at step ``num_steps``.
        num_steps: steps from ``min_lr`` to ``max_lr``.
        beta: smoothing of the loss (0.98: about the last 50 steps).
        diverge_factor: stop once the smoothed loss exceeds this multiple of its minimum.
        clip_norm: clip the gradient norm as the run would (0: off).
        device: where the copy trains.

    Raises:
        ConfigError: nonsensical range or step count.
    """
    check_range(min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, beta=beta)
    work = copy.deepcopy(module).to(device).train()  # the caller's weights never move
    optimizer = work.optimizer_factory(work.model.parameters())
    growth = (max_lr / min_lr) ** (1 / (num_steps - 1))
    result = LRFindResult()
    average, best = 0.0, math.inf
    batches = _cycle(loader)
    for step in range(num_steps):
        lr = min_lr * growth**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = move_to_device(next(batches), torch.device(device))
        optimizer.zero_grad(set_to_none=True)
        loss = work.training_step((x, y))
        value = float(loss.detach())
        if not math.isfinite(value):
            result.stopped = "non-finite loss"
            break
        loss.backward()
        if clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(work.model.parameters(), clip_norm)
        optimizer.step()
        average = beta * average + (1 - beta) * value
        smooth = average / (1 - beta ** (step + 1))  # bias correction: the average starts at 0
        result.lrs.append(lr)
        result.losses.append(value)
        result.smoothed.append(smooth)
        best = min(best, smooth)
        if step > 0 and smooth > diverge_factor * best:
            result.stopped = "diverged"
            break
    _suggest(result)
    return result


def _suggest(result: LRFindResult) -> None:
    """Fill in the minimum, the steepest descent and the suggestion from the smoothed curve."""
    if not result.smoothed:
        return
    lowest = min(range(len(result.smoothed)), key=result.smoothed.__getitem__)
    result.min_loss_lr = result.lrs[lowest]
    result.suggestion = result.min_loss_lr / 10
    # Slopes over a window of a few steps, after the first tenth: early on the average covers
    # few batches, and batch-to-batch noise over a tiny log-lr step looks like a steep fall.
    window = max(1, len(result.smoothed) // 40)
    start = max(window, len(result.smoothed) // 10)
    if lowest - window > start:
        logs = [math.log10(lr) for lr in result.lrs]
        slopes = {
            i: (result.smoothed[i + window] - result.smoothed[i - window])
            / (logs[i + window] - logs[i - window])
            for i in range(start, lowest - window)
        }
        result.steepest_lr = result.lrs[min(slopes, key=slopes.__getitem__)]


def plot_lr_find(result: LRFindResult, path: Path) -> Path:
    """Loss (raw and smoothed) against the learning rate on a log axis, with the suggestion marked."""
    from trainer.plots import plt  # matplotlib (file backend) loads only when a figure is drawn

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(result.lrs, result.losses, alpha=0.3, label="loss")
    ax.plot(result.lrs, result.smoothed, label="smoothed loss")
    if math.isfinite(result.suggestion):
        ax.axvline(
            result.suggestion, color="tab:green", linestyle="--", label=f"suggested {result.suggestion:.2g}"
        )
        ax.axvline(result.min_loss_lr, color="grey", linestyle=":", label=f"minimum {result.min_loss_lr:.2g}")
    if result.smoothed:  # the divergence would flatten the interesting part of the curve
        low = min(result.smoothed)
        ax.set_ylim(low - 0.1 * abs(low), max(result.smoothed[0], low) * 1.5 + 1e-12)
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss", title="Learning-rate range test")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def describe(result: LRFindResult) -> dict[str, Any]:
    """The result's scalar findings (for tags and the printed summary)."""
    return {
        "suggested_lr": result.suggestion,
        "min_loss_lr": result.min_loss_lr,
        "steepest_lr": result.steepest_lr,
        "steps": len(result.lrs),
        "stopped": result.stopped,
    }
