"""Overhead of our Trainer against a hand-written PyTorch loop doing the same work.

What it measures: the same MLP (``trainer.models.MLP``) is trained on the same synthetic
binary table (scikit-learn ``make_classification``, standardised with training statistics),
from the same initial weights, with Adam and the same batch order, twice in one process:

* ``trainer``: ``Trainer(...).fit(TrainingModule, datamodule)`` with no callbacks, no logger
  and per-step logging pushed out of reach;
* ``raw``: a plain loop, per step forward, BCE-with-logits, backward, ``optimizer.step()``,
  ``zero_grad()``, the loss summed on the device for the epoch mean, and after each epoch
  the same validation pass (inference mode, loss, accuracy/precision/recall/F1/ROC-AUC/AP).

Both draw batches from ``TensorBatches`` shuffled per ``(seed, epoch)`` via ``set_epoch``,
exactly as the Trainer does, so both see the same batches and should reach the same losses
and weights. The script fails (exit 1) if the per-epoch training losses differ by more than
1e-5 (absolute or relative). One warm-up run of each precedes the timed runs; the timed runs
alternate trainer/raw, swapping which goes first every repeat, and the median of each is
reported. The last line is ``trainer_vs_raw=<median trainer s / median raw s>``; a ratio
near 1 means the Trainer adds little per-step overhead (goal: at most 1.05; not asserted).
Run it on an otherwise idle machine: with other jobs competing for the cores, torch's
intra-op threads stall and single runs take 10-20x longer, which drowns the ratio in noise
(``OMP_NUM_THREADS=1`` holds up much better under load).

Run::

    .venv/bin/python scripts/bench_trainer.py
    .venv/bin/python scripts/bench_trainer.py --device cuda --precision bf16-mixed --epochs 20
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn import metrics as skm
from torch.nn import functional as F

from bench_data import make_tables  # scripts/ is on sys.path when a script runs
from trainer.data.batches import TensorBatches
from trainer.engine.device import resolve_device
from trainer.engine.module import TrainingModule
from trainer.engine.trainer import Trainer
from trainer.errors import ConfigError
from trainer.models import MLP
from trainer.tasks.binary import BinaryObjective

LOSS_TOLERANCE = 1e-5
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Setup:
    """Everything both runs share: data on the device, initial weights, schedule."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    hidden: tuple[int, ...]
    initial_state: dict[str, torch.Tensor]
    batch_size: int
    epochs: int
    seed: int
    device: torch.device
    precision: str

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_batches())

    def train_batches(self) -> TensorBatches:
        return TensorBatches(
            self.x_train, self.y_train, batch_size=self.batch_size, shuffle=True, seed=self.seed
        )

    def val_batches(self) -> TensorBatches:
        return TensorBatches(self.x_val, self.y_val, batch_size=self.batch_size)


@dataclass(frozen=True)
class RunResult:
    """One timed run: wall seconds, per-epoch train and val losses, final weights (on the CPU)."""

    seconds: float
    train_losses: list[float]
    val_losses: list[float]
    weights: dict[str, torch.Tensor]


class BenchDataModule:
    """The two loaders the Trainer asks for, over the shared tensors."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup

    def train_dataloader(self) -> TensorBatches:
        return self.setup.train_batches()

    def val_dataloader(self) -> TensorBatches:
        return self.setup.val_batches()


# ---------------------------------------------------------------------- setup
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the synthetic table")
    parser.add_argument("--features", type=int, default=32, help="columns of the synthetic table")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="hidden layer widths")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each, interleaved")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=("32", "bf16-mixed"), default="32")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build_model(setup: Setup) -> MLP:
    """A fresh MLP holding the shared initial weights, on the device."""
    model = MLP(in_features=setup.x_train.shape[1], out_features=1, hidden_sizes=setup.hidden)
    model.load_state_dict(setup.initial_state)
    return model.to(setup.device)


def make_setup(args: argparse.Namespace) -> Setup:
    device = resolve_device(args.device)
    x_train, y_train, x_val, y_val = make_tables(args.rows, args.features, args.seed)
    torch.manual_seed(args.seed)
    model = MLP(in_features=args.features, out_features=1, hidden_sizes=args.hidden)
    initial = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return Setup(
        x_train=x_train.to(device),  # data lives on the device for both loops
        y_train=y_train.to(device),
        x_val=x_val.to(device),
        y_val=y_val.to(device),
        hidden=tuple(args.hidden),
        initial_state=initial,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        device=device,
        precision=args.precision,
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().float().cpu().clone() for name, value in model.state_dict().items()}


# ---------------------------------------------------------------------- the two contenders
def run_trainer(setup: Setup) -> RunResult:
    """Fit through our Trainer with nothing extra switched on."""
    model = build_model(setup)
    module = TrainingModule(
        model, BinaryObjective(), optimizer_factory=functools.partial(torch.optim.Adam, lr=LEARNING_RATE)
    )
    datamodule = BenchDataModule(setup)
    synchronize(setup.device)
    start = time.perf_counter()
    trainer = Trainer(
        accelerator=str(setup.device),
        precision=setup.precision,
        max_epochs=setup.epochs,
        callbacks=[],
        logger=None,
        log_every_n_steps=10**9,
    )
    trainer.fit(module, datamodule)
    synchronize(setup.device)
    seconds = time.perf_counter() - start
    return RunResult(
        seconds=seconds,
        train_losses=[row["train/loss"] for row in trainer.history],
        val_losses=[row["val/loss"] for row in trainer.history],
        weights=cpu_weights(model),
    )


def autocast_for(setup: Setup) -> Callable[[], AbstractContextManager[object]]:
    """The same autocast setting the Trainer uses: bf16 autocast, or nothing in full precision."""
    if setup.precision == "32":
        return contextlib.nullcontext
    return functools.partial(torch.autocast, device_type=setup.device.type, dtype=torch.bfloat16)


def raw_train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    autocast: Callable[[], AbstractContextManager[object]],
    device: torch.device,
) -> float:
    model.train()
    loss_sum = torch.zeros((), device=device)
    steps = 0
    for x, y in batches:
        with autocast():
            logits = model(x).reshape(-1)  # (batch,)
            loss = F.binary_cross_entropy_with_logits(logits, y.reshape(-1).to(logits.dtype))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.detach()
        steps += 1
    return float(loss_sum) / max(steps, 1)


def raw_validate(
    model: torch.nn.Module,
    batches: TensorBatches,
    autocast: Callable[[], AbstractContextManager[object]],
    device: torch.device,
) -> float:
    """Validation loss plus the same metrics the binary objective computes (kept, then dropped)."""
    model.eval()
    outputs, labels = [], []
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    with torch.inference_mode():
        for x, y in batches:
            with autocast():
                out = model(x)
                logits = out.reshape(-1)
                loss = F.binary_cross_entropy_with_logits(logits, y.reshape(-1).to(logits.dtype))
            outputs.append(out.float())
            labels.append(y)
            loss_sum += loss.double() * len(x)
    model.train()
    scores = torch.sigmoid(torch.cat(outputs).cpu().reshape(-1)).numpy()
    y_true = torch.cat(labels).cpu().numpy().astype(np.int64)
    y_pred = (scores >= 0.5).astype(np.int64)
    skm.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    skm.accuracy_score(y_true, y_pred)
    skm.roc_auc_score(y_true, scores)
    skm.average_precision_score(y_true, scores)
    return float(loss_sum) / len(y_true)


def run_raw(setup: Setup) -> RunResult:
    """The same training, written as a plain PyTorch loop."""
    model = build_model(setup)
    train_batches, val_batches = setup.train_batches(), setup.val_batches()
    autocast = autocast_for(setup)
    synchronize(setup.device)
    start = time.perf_counter()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    train_losses, val_losses = [], []
    for epoch in range(setup.epochs):
        train_batches.set_epoch(epoch)  # as the Trainer does: order from (seed, epoch)
        train_losses.append(raw_train_epoch(model, optimizer, iter(train_batches), autocast, setup.device))
        val_losses.append(raw_validate(model, val_batches, autocast, setup.device))
    synchronize(setup.device)
    seconds = time.perf_counter() - start
    return RunResult(seconds, train_losses, val_losses, cpu_weights(model))


# ---------------------------------------------------------------------- measuring and reporting
def timed(run: Callable[[Setup], RunResult], setup: Setup) -> RunResult:
    gc.collect()
    return run(setup)


def run_pairs(setup: Setup, repeats: int) -> list[tuple[RunResult, RunResult]]:
    """(trainer, raw) per repeat, alternating which one goes first."""
    pairs = []
    for repeat in range(repeats):
        if repeat % 2 == 0:
            trainer_run = timed(run_trainer, setup)
            raw_run = timed(run_raw, setup)
        else:
            raw_run = timed(run_raw, setup)
            trainer_run = timed(run_trainer, setup)
        pairs.append((trainer_run, raw_run))
    return pairs


def loss_difference(a: list[float], b: list[float]) -> float:
    """Largest per-epoch difference, each taken as the smaller of absolute and relative."""
    if len(a) != len(b):
        return float("inf")
    diffs = [min(abs(x - y), abs(x - y) / max(abs(y), 1e-12)) for x, y in zip(a, b, strict=True)]
    return max(diffs, default=0.0)


def weight_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[name] - b[name]).abs().max().item() for name in a)


def check_agreement(pairs: list[tuple[RunResult, RunResult]]) -> bool:
    """Print the largest loss and weight differences over all pairs; True if the losses agree."""
    train_diff = max(loss_difference(t.train_losses, r.train_losses) for t, r in pairs)
    val_diff = max(loss_difference(t.val_losses, r.val_losses) for t, r in pairs)
    weights_diff = max(weight_difference(t.weights, r.weights) for t, r in pairs)
    agree = train_diff <= LOSS_TOLERANCE
    print(f"max per-epoch train loss difference: {train_diff:.3e} (tolerance {LOSS_TOLERANCE:g})")
    print(f"max per-epoch val loss difference:   {val_diff:.3e}")
    print(f"max abs final weight difference:     {weights_diff:.3e}")
    trainer_run, raw_run = pairs[0]
    print(f"final train loss: trainer {trainer_run.train_losses[-1]:.6f}  raw {raw_run.train_losses[-1]:.6f}")
    if not agree:
        print("ERROR: the Trainer and the raw loop do not train the same model.", file=sys.stderr)
    return agree


def print_table(pairs: list[tuple[RunResult, RunResult]], steps: int) -> float:
    """Timing table; returns median trainer seconds / median raw seconds."""
    medians = {}
    print(f"{'':8} {'median s/run':>12} {'min s':>8} {'max s':>8} {'steps/s':>9}")
    for name, runs in (("trainer", [t for t, _ in pairs]), ("raw", [r for _, r in pairs])):
        seconds = [run.seconds for run in runs]
        medians[name] = statistics.median(seconds)
        print(
            f"{name:8} {medians[name]:12.4f} {min(seconds):8.4f} {max(seconds):8.4f} "
            f"{steps / medians[name]:9.1f}"
        )
    paired = statistics.median(t.seconds / r.seconds for t, r in pairs)
    print(f"median of per-pair ratios: {paired:.3f} (less sensitive to load that drifts during the run)")
    return medians["trainer"] / medians["raw"]


def describe(setup: Setup, args: argparse.Namespace) -> None:
    print(
        f"device={setup.device} precision={setup.precision} torch={torch.__version__} "
        f"threads={torch.get_num_threads()}"
    )
    print(
        f"rows={args.rows} (train {len(setup.x_train)}, val {len(setup.x_val)}) features={args.features} "
        f"hidden={list(setup.hidden)} batch={setup.batch_size} epochs={setup.epochs} "
        f"steps/epoch={setup.steps_per_epoch} repeats={args.repeats}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        setup = make_setup(args)
    except ConfigError as exc:  # e.g. --device cuda on a machine without CUDA
        print(f"error: {exc}", file=sys.stderr)
        return 2
    describe(setup, args)
    warmup = [(run_trainer(setup), run_raw(setup))]  # kernels, allocator, lazy imports
    pairs = run_pairs(setup, args.repeats)
    agree = check_agreement(warmup + pairs)
    ratio = print_table(pairs, setup.steps_per_epoch * setup.epochs)
    print(f"trainer_vs_raw={ratio:.3f}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
