"""Our Trainer against a hand-written loop, a DataLoader loop and PyTorch Lightning, side by side.

What it measures: the same model (``--model mlp``: ``trainer.models.MLP`` on a synthetic binary
table from scikit-learn's ``make_classification``, standardised with training statistics;
``--model cnn``: ``trainer.models.CNN`` on synthetic 1x28x28 images with 10 learnable classes)
is trained from the same initial weights, with Adam at the same learning rate, for the same
number of epochs and steps, four ways in one process:

* ``trainer``: ``Trainer(...).fit(TrainingModule, datamodule)`` with no callbacks, no logger and
  per-step logging pushed out of reach; the optimizer comes from ``trainer.optim.optimizers.Adam``
  (what ``optimizer=adam`` builds) with ``fused=false``, the same torch Adam kernel as the
  other loops (``optimizer=adam`` itself takes the fused kernel: ``--optimizer-option
  fused=null`` measures that default);
* ``raw``: a plain loop over the same device-resident ``TensorBatches``: forward, loss,
  backward, ``optimizer.step()``, ``zero_grad()``, the loss summed on the device, and after each
  epoch the same validation pass (inference mode, loss, the objective's metrics by hand);
* ``dataloader``: the loop most PyTorch code has: ``DataLoader(TensorDataset(x, y),
  batch_size, shuffle=True)`` (seeded generator, ``num_workers=0``, ``pin_memory`` on CUDA),
  each batch moved to the device, the same step and validation;
* ``lightning``: PyTorch Lightning as its users write it: a ``LightningModule`` whose
  ``training_step`` calls ``self.log("train/loss", loss, on_step=True, on_epoch=True)``, whose
  validation logs the loss and the same metrics with ``self.log_dict``, fed by the same
  DataLoaders, fitted by ``lightning.Trainer(max_epochs=..., logger=False,
  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
  num_sanity_val_steps=0)``: no logger, no callbacks, no sanity pass, like ``trainer`` here
  (the kindest setting for Lightning). It needs the optional extra ``bench``
  (``pip install -e '.[bench]'``); without it the script says so and skips that column.

``trainer`` and ``raw`` draw the same batches (``TensorBatches`` shuffled per ``(seed, epoch)``)
and must reach the same per-epoch training losses (within 1e-5; the script exits 1 otherwise).
``dataloader`` and ``lightning`` get the same seeded DataLoaders: their first epochs see the same
batches (equal losses), later ones a different order (Lightning draws from the sampler's generator
between epochs), so their losses are printed, not enforced. One warm-up run of each precedes the timed runs;
each repeat runs all four, the order rotating every repeat; medians are reported with every
run's time. Samples/s counts training rows per second of the whole fit (validation included).

The last line is ``trainer_vs_raw=<r> trainer_vs_lightning=<r>``: median trainer seconds divided
by the median seconds of the other (time ratios, lower is better; ``n/a`` when Lightning is
missing). Goals: ``trainer_vs_raw`` at most 1.05, ``trainer_vs_lightning`` at most 0.5 on CPU
for the MLP (2x Lightning's throughput), at most 1 for the CNN on a GPU; printed, not asserted.
Wall times on a shared machine drift with other jobs' load: ``OMP_NUM_THREADS=1`` (or
``--threads 1``) holds up much better under load than torch's default thread pool.

Run::

    .venv/bin/python scripts/bench_trainer.py                     # MLP, batch 1024, CPU
    .venv/bin/python scripts/bench_trainer.py --batch-size 64
    .venv/bin/python scripts/bench_trainer.py --optimizer-option fused=true
    .venv/bin/python scripts/bench_trainer.py --model cnn --device cuda --batch-size 256 --epochs 3
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import gc
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from bench_data import make_tables  # scripts/ is on sys.path when a script runs
from trainer.data.batches import TensorBatches
from trainer.engine.device import resolve_device
from trainer.engine.module import TrainingModule
from trainer.engine.trainer import Trainer
from trainer.errors import ConfigError
from trainer.models import CNN, MLP
from trainer.optim import optimizers
from trainer.tasks.base import Objective
from trainer.tasks.binary import BinaryObjective
from trainer.tasks.multiclass import MulticlassObjective

LOSS_TOLERANCE = 1e-5
LEARNING_RATE = 1e-3
CONTENDERS = ("trainer", "raw", "dataloader", "lightning")
IMAGE_SHAPE = (1, 28, 28)
CLASSES = 10


# ---------------------------------------------------------------------- the two tasks
def binary_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = out.reshape(-1)  # (batch,)
    return F.binary_cross_entropy_with_logits(logits, y.reshape(-1).to(logits.dtype))


def binary_metrics(out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """What ``BinaryObjective.metrics`` computes, written out by hand."""
    scores = torch.sigmoid(out.float().cpu().reshape(-1)).numpy()
    y_true = y.cpu().reshape(-1).numpy().astype(np.int64)
    y_pred = (scores >= 0.5).astype(np.int64)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float(skm.roc_auc_score(y_true, scores)),
        "average_precision": float(skm.average_precision_score(y_true, scores)),
    }


def multiclass_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y.long())


def multiclass_metrics(out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro F1 of the arg-max, by hand."""
    y_true = y.cpu().numpy().astype(np.int64)
    y_pred = out.float().cpu().argmax(dim=1).numpy()
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


@dataclass(frozen=True)
class Task:
    """What differs between the MLP and the CNN benchmark: data, model, loss, metrics, objective."""

    name: str
    make_data: Callable[[argparse.Namespace], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]
    make_model: Callable[[argparse.Namespace, torch.Tensor], nn.Module]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metrics: Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
    objective: Callable[[], Objective]


def make_images(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian images whose class is the arg-max of a fixed projection of their 7x7 average pool."""
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.randn(args.rows, *IMAGE_SHAPE, generator=generator)
    pooled = F.avg_pool2d(images, 4).flatten(1)  # (rows, 49)
    labels = (pooled @ torch.randn(pooled.shape[1], CLASSES, generator=generator)).argmax(dim=1)
    n_val = args.rows // 5
    return images[n_val:], labels[n_val:], images[:n_val], labels[:n_val]


TASKS = {
    "mlp": Task(
        "mlp",
        make_data=lambda args: make_tables(args.rows, args.features, args.seed),
        make_model=lambda args, x: MLP(in_features=x.shape[1], out_features=1, hidden_sizes=args.hidden),
        loss=binary_loss,
        metrics=binary_metrics,
        objective=BinaryObjective,
    ),
    "cnn": Task(
        "cnn",
        make_data=make_images,
        make_model=lambda args, x: CNN(input_shape=tuple(x.shape[1:]), out_features=CLASSES),
        loss=multiclass_loss,
        metrics=multiclass_metrics,
        objective=MulticlassObjective,
    ),
}


# ---------------------------------------------------------------------- shared setup
@dataclass(frozen=True)
class Setup:
    """Everything the contenders share: the data (CPU and device copies), initial weights, schedule."""

    task: Task
    args: argparse.Namespace
    cpu: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x_train, y_train, x_val, y_val
    on_device: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    initial_state: dict[str, torch.Tensor]
    device: torch.device
    optimizer_options: dict[str, Any]

    @property
    def batch_size(self) -> int:
        return int(self.args.batch_size)

    @property
    def epochs(self) -> int:
        return int(self.args.epochs)

    @property
    def seed(self) -> int:
        return int(self.args.seed)

    @property
    def precision(self) -> str:
        return str(self.args.precision)

    @property
    def train_rows(self) -> int:
        return len(self.cpu[0])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_batches())

    def train_batches(self) -> TensorBatches:
        x, y = self.on_device[0], self.on_device[1]
        return TensorBatches(x, y, batch_size=self.batch_size, shuffle=True, seed=self.seed)

    def val_batches(self) -> TensorBatches:
        return TensorBatches(self.on_device[2], self.on_device[3], batch_size=self.batch_size)

    def train_loader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        """The DataLoader most code writes: shuffled by a seeded generator, no workers."""
        generator = torch.Generator().manual_seed(self.seed)
        dataset = TensorDataset(self.cpu[0], self.cpu[1])
        pin = self.device.type == "cuda"
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=True, generator=generator, pin_memory=pin
        )

    def val_loader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        pin = self.device.type == "cuda"
        return DataLoader(TensorDataset(self.cpu[2], self.cpu[3]), batch_size=self.batch_size, pin_memory=pin)


@dataclass(frozen=True)
class RunResult:
    """One timed run: wall seconds, per-epoch train and val losses, final weights (on the CPU)."""

    seconds: float
    train_losses: list[float]
    val_losses: list[float] = field(default_factory=list)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)


class BenchDataModule:
    """The two loaders our Trainer asks for, over the shared device tensors."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup

    def train_dataloader(self) -> TensorBatches:
        return self.setup.train_batches()

    def val_dataloader(self) -> TensorBatches:
        return self.setup.val_batches()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", choices=sorted(TASKS), default="mlp")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the synthetic data")
    parser.add_argument("--features", type=int, default=32, help="columns of the synthetic table (mlp)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="hidden widths (mlp)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each, interleaved")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=("32", "bf16-mixed"), default="32")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument(
        "--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS), help="which loops to time"
    )
    parser.add_argument(
        "--optimizer-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of our Trainer's Adam only, e.g. fused=true or foreach=false",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if "trainer" not in args.contenders:
        parser.error("--contenders must include trainer (every ratio is against it)")
    return args


def parse_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``["fused=true", "foreach=None"]`` -> ``{"fused": True, "foreach": None}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        words = {"true": True, "false": False, "none": None, "null": None}
        options[key.strip()] = words[text.lower()] if text.lower() in words else ast.literal_eval(text)
    return options


def make_setup(args: argparse.Namespace) -> Setup:
    task = TASKS[args.model]
    device = resolve_device(args.device)
    cpu = task.make_data(args)
    torch.manual_seed(args.seed)
    model = task.make_model(args, cpu[0])
    initial = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return Setup(
        task=task,
        args=args,
        cpu=cpu,
        on_device=(cpu[0].to(device), cpu[1].to(device), cpu[2].to(device), cpu[3].to(device)),
        initial_state=initial,
        device=device,
        # fused=false unless asked: the loops beside it use torch's default Adam, and the bench
        # measures the loop's cost, not the optimizer kernel (ours takes the fused one by default).
        optimizer_options={"fused": False, **parse_options(args.optimizer_option)},
    )


def build_model(setup: Setup) -> nn.Module:
    """A fresh model holding the shared initial weights, on the device."""
    model = setup.task.make_model(setup.args, setup.cpu[0])
    model.load_state_dict(setup.initial_state)
    return model.to(setup.device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().float().cpu().clone() for name, value in model.state_dict().items()}


def autocast_for(setup: Setup) -> Callable[[], AbstractContextManager[object]]:
    """The Trainer's autocast setting: bf16 autocast, or nothing in full precision."""
    if setup.precision == "32":
        return contextlib.nullcontext
    return functools.partial(torch.autocast, device_type=setup.device.type, dtype=torch.bfloat16)


# ---------------------------------------------------------------------- our Trainer
def run_trainer(setup: Setup) -> RunResult:
    """Fit through our Trainer with nothing extra switched on."""
    model = build_model(setup)
    factory = optimizers.Adam(lr=LEARNING_RATE, **setup.optimizer_options)
    module = TrainingModule(model, setup.task.objective(), optimizer_factory=factory)
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


# ---------------------------------------------------------------------- hand-written loops
def hand_train_epoch(
    setup: Setup,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    move: bool,
) -> float:
    model.train()
    autocast = autocast_for(setup)
    loss_sum = torch.zeros((), device=setup.device)
    steps = 0
    for x, y in batches:
        if move:
            x = x.to(setup.device, non_blocking=True)
            y = y.to(setup.device, non_blocking=True)
        with autocast():
            loss = setup.task.loss(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.detach()
        steps += 1
    return float(loss_sum) / max(steps, 1)


def hand_validate(
    setup: Setup, model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], move: bool
) -> float:
    """Validation loss plus the same metrics the objective computes (kept, then dropped)."""
    model.eval()
    autocast = autocast_for(setup)
    outputs, labels = [], []
    loss_sum = torch.zeros((), device=setup.device, dtype=torch.float64)
    rows = 0
    with torch.inference_mode():
        for x, y in batches:
            if move:
                x = x.to(setup.device, non_blocking=True)
                y = y.to(setup.device, non_blocking=True)
            with autocast():
                out = model(x)
                loss = setup.task.loss(out, y)
            outputs.append(out.float())
            labels.append(y)
            loss_sum += loss.double() * len(x)
            rows += len(x)
    model.train()
    setup.task.metrics(torch.cat(outputs), torch.cat(labels))
    return float(loss_sum) / rows


def run_raw(setup: Setup) -> RunResult:
    """The same training as a plain loop over the Trainer's own device-resident batches."""
    model = build_model(setup)
    train_batches, val_batches = setup.train_batches(), setup.val_batches()
    synchronize(setup.device)
    start = time.perf_counter()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    train_losses, val_losses = [], []
    for epoch in range(setup.epochs):
        train_batches.set_epoch(epoch)  # as the Trainer does: order from (seed, epoch)
        train_losses.append(hand_train_epoch(setup, model, optimizer, train_batches, move=False))
        val_losses.append(hand_validate(setup, model, val_batches, move=False))
    synchronize(setup.device)
    seconds = time.perf_counter() - start
    return RunResult(seconds, train_losses, val_losses, cpu_weights(model))


def run_dataloader(setup: Setup) -> RunResult:
    """The loop most PyTorch code has: DataLoader(TensorDataset) batches moved to the device."""
    model = build_model(setup)
    synchronize(setup.device)
    start = time.perf_counter()
    train_loader, val_loader = setup.train_loader(), setup.val_loader()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    train_losses, val_losses = [], []
    for _ in range(setup.epochs):
        train_losses.append(hand_train_epoch(setup, model, optimizer, train_loader, move=True))
        val_losses.append(hand_validate(setup, model, val_loader, move=True))
    synchronize(setup.device)
    seconds = time.perf_counter() - start
    return RunResult(seconds, train_losses, val_losses, cpu_weights(model))


# ---------------------------------------------------------------------- Lightning
def lightning_available() -> bool:
    try:
        import lightning  # noqa: F401
    except ImportError:
        return False
    return True


def quiet_lightning() -> None:
    """Lightning's start-up banners and its hint to add DataLoader workers are noise here."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


@functools.cache
def lightning_module_class() -> type[Any]:
    """A LightningModule written the way its documentation teaches (defined once Lightning imports)."""
    import lightning as L

    class LitModel(L.LightningModule):
        def __init__(self, model: nn.Module, task: Task) -> None:
            super().__init__()
            self.model = model
            self.task = task
            self.train_losses: list[float] = []
            self.val_losses: list[float] = []
            self._outputs: list[torch.Tensor] = []
            self._labels: list[torch.Tensor] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = self.task.loss(self.model(x), y)
            self.log("train/loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
            x, y = batch
            out = self.model(x)
            self.log("val/loss", self.task.loss(out, y), on_epoch=True, batch_size=len(x))
            self._outputs.append(out.float())
            self._labels.append(y)

        def on_validation_epoch_end(self) -> None:
            outputs, labels = torch.cat(self._outputs), torch.cat(self._labels)
            self._outputs.clear()
            self._labels.clear()
            self.log_dict({f"val/{k}": v for k, v in self.task.metrics(outputs, labels).items()})

        def on_train_epoch_end(self) -> None:
            self.train_losses.append(float(self.trainer.callback_metrics["train/loss_epoch"]))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=LEARNING_RATE)

    return LitModel


def run_lightning(setup: Setup) -> RunResult:
    """Lightning's Trainer over the same DataLoaders, logger and callbacks off."""
    import lightning as L

    model = build_model(setup)
    lit = lightning_module_class()(model, setup.task)
    precision: Any = "32-true" if setup.precision == "32" else "bf16-mixed"
    with tempfile.TemporaryDirectory(prefix="bench-lightning-") as root:
        synchronize(setup.device)
        start = time.perf_counter()
        trainer = L.Trainer(
            accelerator=setup.device.type,
            devices=1,
            precision=precision,
            max_epochs=setup.epochs,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            default_root_dir=root,
        )
        trainer.fit(lit, train_dataloaders=setup.train_loader(), val_dataloaders=setup.val_loader())
        synchronize(setup.device)
        seconds = time.perf_counter() - start
    return RunResult(seconds, list(lit.train_losses), [], cpu_weights(model))


RUNNERS: dict[str, Callable[[Setup], RunResult]] = {
    "trainer": run_trainer,
    "raw": run_raw,
    "dataloader": run_dataloader,
    "lightning": run_lightning,
}


# ---------------------------------------------------------------------- measuring and reporting
def run_all(setup: Setup, names: list[str], repeats: int) -> dict[str, list[RunResult]]:
    """One warm-up of each, then ``repeats`` rounds of all, the order rotating every round."""
    warmup = {name: RUNNERS[name](setup) for name in names}  # kernels, allocator, lazy imports
    results: dict[str, list[RunResult]] = {name: [warmup[name]] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            results[name].append(RUNNERS[name](setup))
    return results


def loss_difference(a: list[float], b: list[float]) -> float:
    """Largest per-epoch difference, each taken as the smaller of absolute and relative."""
    if len(a) != len(b):
        return float("inf")
    diffs = [min(abs(x - y), abs(x - y) / max(abs(y), 1e-12)) for x, y in zip(a, b, strict=True)]
    return max(diffs, default=0.0)


def check_agreement(results: dict[str, list[RunResult]]) -> bool:
    """Trainer and raw must train the same model; DataLoader and Lightning are compared, not enforced."""
    trainer, raw = results["trainer"], results.get("raw")
    agree = True
    if raw is not None:
        pairs = list(zip(trainer, raw, strict=True))
        train_diff = max(loss_difference(t.train_losses, r.train_losses) for t, r in pairs)
        val_diff = max(loss_difference(t.val_losses, r.val_losses) for t, r in pairs)
        weights = max((t.weights[k] - r.weights[k]).abs().max().item() for t, r in pairs for k in t.weights)
        agree = train_diff <= LOSS_TOLERANCE
        print(
            f"trainer vs raw: max per-epoch train loss difference {train_diff:.3e} (tolerance "
            f"{LOSS_TOLERANCE:g}), val {val_diff:.3e}, max abs final weight difference {weights:.3e}"
        )
        if not agree:
            print("ERROR: the Trainer and the raw loop do not train the same model.", file=sys.stderr)
    if "dataloader" in results and "lightning" in results:
        lit, loop = results["lightning"][0].train_losses, results["dataloader"][0].train_losses
        print(
            f"dataloader vs lightning (same first-epoch batches): first-epoch train loss difference "
            f"{loss_difference(lit[:1], loop[:1]):.3e}, "
            f"largest over all epochs {loss_difference(lit, loop):.3e}"
        )
    finals = "  ".join(f"{name} {runs[0].train_losses[-1]:.5f}" for name, runs in results.items())
    print(f"final epoch train loss: {finals}")
    return agree


def print_table(results: dict[str, list[RunResult]], setup: Setup) -> dict[str, float]:
    """Timing table (timed runs only, the warm-up left out); returns each median in seconds."""
    medians: dict[str, float] = {}
    samples = setup.train_rows * setup.epochs
    print(
        f"{'':11} {'median s':>9} {'min s':>8} {'max s':>8} {'spread':>7} {'samples/s':>10} "
        f"{'us/step':>8} {'trainer/x':>9}"
    )
    steps = setup.steps_per_epoch * setup.epochs
    for name, runs in results.items():
        seconds = [run.seconds for run in runs[1:]]
        medians[name] = statistics.median(seconds)
    for name, runs in results.items():
        seconds = [run.seconds for run in runs[1:]]
        spread = (max(seconds) - min(seconds)) / medians[name]
        print(
            f"{name:11} {medians[name]:9.4f} {min(seconds):8.4f} {max(seconds):8.4f} {spread:7.1%} "
            f"{samples / medians[name]:10.0f} {1e6 * medians[name] / steps:8.1f} "
            f"{medians['trainer'] / medians[name]:9.3f}"
        )
    for name, runs in results.items():
        print(f"  {name} runs (s): {' '.join(f'{run.seconds:.4f}' for run in runs[1:])}")
    if "raw" in results:
        paired = statistics.median(
            t.seconds / r.seconds for t, r in zip(results["trainer"][1:], results["raw"][1:], strict=True)
        )
        print(f"trainer/raw median of per-round ratios: {paired:.3f} (less sensitive to drifting load)")
    return medians


def describe(setup: Setup) -> None:
    args = setup.args
    shape = list(setup.cpu[0].shape[1:])
    model = f"hidden={list(args.hidden)}" if args.model == "mlp" else "channels=(32, 64) hidden=128"
    print(
        f"model={args.model} {model} device={setup.device} precision={setup.precision} "
        f"torch={torch.__version__} threads={torch.get_num_threads()}"
    )
    print(
        f"rows={args.rows} (train {setup.train_rows}, val {len(setup.cpu[2])}) input={shape} "
        f"batch={setup.batch_size} epochs={setup.epochs} steps/epoch={setup.steps_per_epoch} "
        f"repeats={args.repeats} trainer optimizer options={setup.optimizer_options or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [name for name in CONTENDERS if name in args.contenders]
    if "lightning" in names and not lightning_available():
        print("lightning is not installed (pip install -e '.[bench]'): the lightning column is skipped.")
        names.remove("lightning")
    if "lightning" in names:
        import lightning

        quiet_lightning()
        print(f"lightning={lightning.__version__}")
    try:
        setup = make_setup(args)
    except ConfigError as exc:  # e.g. --device cuda on a machine without CUDA
        print(f"error: {exc}", file=sys.stderr)
        return 2
    describe(setup)
    results = run_all(setup, names, args.repeats)
    agree = check_agreement(results)
    medians = print_table(results, setup)
    vs_raw = f"{medians['trainer'] / medians['raw']:.3f}" if "raw" in medians else "n/a"
    vs_lightning = f"{medians['trainer'] / medians['lightning']:.3f}" if "lightning" in medians else "n/a"
    print(f"trainer_vs_raw={vs_raw} trainer_vs_lightning={vs_lightning}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
