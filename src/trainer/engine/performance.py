"""GPU awareness: torch.compile, the cuDNN autotuner and TF32 switches, and per-epoch speed.

Each switch applies while the Trainer runs and is put back after, like the deterministic switch
(``engine.seed``), so runs sharing a process (sweep trials) never inherit each other's settings.
Speed is measured per epoch from one clock read at each end and one memory query, never per
step: reading anything back from a GPU inside the loop would stall it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from trainer.engine.seed import deterministic_algorithms
from trainer.errors import ConfigError

#: Any of these lets inductor build its CPU kernels (it writes C++ and compiles it).
CXX_COMPILERS = ("c++", "g++", "clang++")


def check_compile(device: torch.device) -> None:
    """Refuse ``trainer.compile=true`` up front where it cannot work, instead of deep in inductor.

    Raises:
        ConfigError: torch.compile is missing, or a CPU run has no C++ compiler.
    """
    if not hasattr(torch, "compile"):
        raise ConfigError("trainer.compile=true needs torch 2 or newer; set trainer.compile=false.")
    if device.type == "cpu" and not any(shutil.which(name) for name in CXX_COMPILERS):
        raise ConfigError(
            "trainer.compile=true on the CPU needs a C++ compiler (torch.compile generates C++ kernels) "
            f"and none of {', '.join(CXX_COMPILERS)} is on PATH; install g++ or set trainer.compile=false."
        )


@contextmanager
def compiled_forward(model: nn.Module, enabled: bool) -> Iterator[None]:
    """``torch.compile`` the model's ``forward`` for the block; the module stays the same object.

    ``torch.compile(model)`` would wrap the model in an ``OptimizedModule`` whose ``state_dict``
    keys carry an ``_orig_mod.`` prefix, so its checkpoints would not load into a plain model
    and callbacks would see other names. Compiling the bound ``forward`` keeps the module, its
    parameters and its keys; the compiled code is cached by torch, so a later fit reuses it.
    """
    if not enabled:
        yield
        return
    attributes = vars(model)
    previous = attributes.get("forward")  # an instance-level forward someone set before us
    attributes["forward"] = torch.compile(model.forward)
    try:
        yield
    finally:
        if previous is None:
            del attributes["forward"]
        else:
            attributes["forward"] = previous


@contextmanager
def backend_switches(*, cudnn_benchmark: bool | None, tf32: bool | None) -> Iterator[None]:
    """Set cuDNN's autotuner and TF32 for the block and restore them after; ``None`` leaves one alone.

    TF32 goes through torch's ``fp32_precision`` settings (matmul and convolution); torch refuses
    to mix them with the legacy ``allow_tf32`` flags, and reading then restoring the new ones is
    safe whichever API set them before.
    """
    cudnn = torch.backends.cudnn
    matmul = torch.backends.cuda.matmul
    conv: Any = cudnn.conv  # type: ignore[attr-defined]  # set up at import by torch, unseen by mypy
    old_benchmark = cudnn.benchmark
    old_precisions = (matmul.fp32_precision, conv.fp32_precision) if tf32 is not None else None
    if cudnn_benchmark is not None:
        cudnn.benchmark = cudnn_benchmark
    if tf32 is not None:
        precision = "tf32" if tf32 else "ieee"
        matmul.fp32_precision = precision
        conv.fp32_precision = precision
    try:
        yield
    finally:
        cudnn.benchmark = old_benchmark
        if old_precisions is not None:
            matmul.fp32_precision, conv.fp32_precision = old_precisions


class EpochMeter:
    """Samples per second of an epoch's training part and, on CUDA, its peak memory.

    Args:
        device: where the model trains.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self._started = 0.0

    def start(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        self._started = time.perf_counter()

    def stop(self, samples: int) -> dict[str, float]:
        """Metrics of the epoch; the caller has already synchronised (it read the epoch's loss)."""
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        metrics = {"perf/samples_per_sec": samples / elapsed}
        if self.cuda:
            metrics["perf/peak_memory_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return metrics


def rows_trained(batches: int, last_batch: Any, *, ends_epoch: bool, batch_size: int | None) -> int:
    """Rows in ``batches`` consecutive batches, from the last one alone (nothing counted per step).

    Every batch but the epoch's final one is full, so the last batch's rows give the batch size
    unless it is that final (maybe partial) batch; then the loader's ``batch_size`` does.
    """
    if batches <= 0:
        return 0
    last_rows = len(last_batch[0]) if isinstance(last_batch, tuple | list) else len(last_batch)
    full = last_rows if not ends_epoch or batch_size is None else batch_size
    return (batches - 1) * full + last_rows


@contextmanager
def run_switches(*, deterministic: bool, cudnn_benchmark: bool | None, tf32: bool | None) -> Iterator[None]:
    """Deterministic kernels, cuDNN autotuning and TF32 as a run configured them; restored on exit."""
    with (
        deterministic_algorithms(deterministic),
        backend_switches(cudnn_benchmark=cudnn_benchmark, tf32=tf32),
    ):
        yield
