"""Several processes, one run (DDP): sharding, the settings' errors, and a real 2-process gloo run.

The 2-process run starts ``tests/engine/ddp_worker.py`` under torchrun on the CPU (gloo) and
compares each scenario with the same one in this process on the same global batch (2 x 32 rows
against 1 x 64): weights, per-epoch train and validation metrics and test metrics must agree to
float rounding, and both ranks must hold the same weights.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import TensorDataset

from trainer.data.base import AugmentedBatches
from trainer.data.batches import (
    EpochDataLoader,
    TensorBatches,
    epoch_permutation,
    shard_order,
    shard_rows,
    unshard,
)
from trainer.data.windows import WindowBatches
from trainer.engine import Trainer
from trainer.engine.checkpoint import load_checkpoint
from trainer.engine.distributed import World, processes_wanted, resolve_world
from trainer.engine.launcher import processes_to_launch, torchrun_command
from trainer.engine.preemption import Preemption
from trainer.errors import ConfigError

from . import ddp_worker

ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


# ---------------------------------------------------------------------- sharding
@pytest.mark.parametrize("rows", [1, 3, 10, 12, 300])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_training_shards_are_even_and_cover_every_row(rows: int, world: int) -> None:
    order = epoch_permutation(rows, seed=5, epoch=2)
    shards = [shard_order(order, rank, world, even=True) for rank in range(world)]
    assert {len(s) for s in shards} == {shard_rows(rows, 0, world, even=True)}
    served = torch.cat(shards)
    assert set(served.tolist()) == set(range(rows))
    # What pads the ranks to one length is the head of the order, as DistributedSampler does.
    padding = len(served) - rows
    assert sorted(served.tolist()) == sorted(order.tolist() + order.repeat(world)[:padding].tolist())


@pytest.mark.parametrize("rows", [1, 3, 10, 101])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_evaluation_shards_count_each_row_once_and_unshard_restores_the_order(rows: int, world: int) -> None:
    values = torch.arange(rows) * 10
    shards = [shard_order(values, rank, world, even=False) for rank in range(world)]
    assert [len(s) for s in shards] == [shard_rows(rows, rank, world, even=False) for rank in range(world)]
    assert torch.equal(unshard([s if len(s) else None for s in shards]), values)


def _global_batches(loader: Any, world: int) -> list[set[int]]:
    """Rows (by their feature value) of each global batch, from every rank's shard of ``loader``."""
    per_rank = [
        [set(x[:, 0].long().tolist()) for x, _ in loader.shard(r, world, even=True)] for r in range(world)
    ]
    assert len({len(batches) for batches in per_rank}) == 1  # every rank takes as many steps
    return [set().union(*parts) for parts in zip(*per_rank, strict=True)]


def _rows(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(n, dtype=torch.float32).unsqueeze(1), torch.zeros(n)


@pytest.mark.parametrize("rows", [256, 300])
def test_ranks_together_serve_one_process_batches_of_the_global_size(rows: int) -> None:
    x, y = _rows(rows)
    single = TensorBatches(x, y, batch_size=64, shuffle=True, seed=3)
    sharded = TensorBatches(x, y, batch_size=32, shuffle=True, seed=3)
    for epoch in (0, 4):
        single.set_epoch(epoch)
        sharded.set_epoch(epoch)
        expected = [set(b[:, 0].long().tolist()) for b, _ in single]
        assert _global_batches(sharded, 2) == expected


def test_a_shard_starts_mid_epoch_at_its_own_next_batch() -> None:
    x, y = _rows(300)
    shard = TensorBatches(x, y, batch_size=32, shuffle=True, seed=1).shard(1, 2, even=True)
    shard.set_epoch(3)
    whole = [b.clone() for b, _ in shard]
    shard.set_epoch(3)
    shard.start_at(2)
    assert all(torch.equal(a, b) for (a, _), b in zip(shard, whole[2:], strict=True))
    assert shard.rows == 150 and len(shard) == 5


def test_the_dataloader_path_shards_like_device_batches_and_leaves_the_original_whole() -> None:
    x, y = _rows(300)
    loader = EpochDataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=3)
    device = TensorBatches(x, y, batch_size=32, shuffle=True, seed=3)
    for rank in range(2):
        a, b = loader.shard(rank, 2, even=True), device.shard(rank, 2, even=True)
        a.set_epoch(2)
        b.set_epoch(2)
        assert [t.tolist() for t, _ in a] == [t.tolist() for t, _ in b]
    assert len(loader) == 10 and loader.epoch_sampler.world_size == 1


def test_augmented_and_window_batches_shard_their_inner_rows() -> None:
    x, y = _rows(40)
    augmented = AugmentedBatches(TensorBatches(x, y, batch_size=4, shuffle=True), lambda b, g: b, seed=0)
    parts = [{int(v) for b, _ in augmented.shard(r, 2, even=True) for v in b[:, 0]} for r in range(2)]
    assert parts[0] | parts[1] == set(range(40)) and not parts[0] & parts[1]
    series = torch.arange(50, dtype=torch.float32).unsqueeze(1)
    windows = WindowBatches(
        series, series[:, 0], torch.arange(5, 45), torch.arange(-3, 0), horizon=1, batch_size=8
    )
    targets = [torch.cat([t for _, t in windows.shard(r, 2, even=False)]) for r in range(2)]
    assert torch.equal(unshard(targets), torch.cat([t for _, t in windows]))


# ---------------------------------------------------------------------- settings
@pytest.fixture
def torchrun_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``set(rank, world, local_world)``: this process looks like one torchrun started."""

    def set_env(rank: int, world: int, local_world: int) -> None:
        values = (rank, world, rank, local_world, "127.0.0.1", 29555)
        for name, value in zip(TORCHRUN_ENV, values, strict=True):
            monkeypatch.setenv(name, str(value))

    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    return set_env


def test_one_process_is_the_default_and_ddp_on_one_device_is_one_process(torchrun_env: Any) -> None:
    assert resolve_world("auto", "auto", CPU) == World()
    assert resolve_world("ddp", 1, CPU) == World()
    assert resolve_world("ddp", "auto", CPU) == World()  # auto on the CPU: one process
    assert processes_to_launch(strategy="auto", devices="auto", accelerator="cpu") == 0


@pytest.mark.parametrize(
    ("strategy", "devices", "device", "message"),
    [
        ("fsdp", "auto", "cpu", "trainer.strategy='fsdp' is not known; choose auto"),
        ("ddp", 0, "cpu", "trainer.devices=0 must be a number of devices (1 or more) or auto"),
        ("ddp", "two", "cpu", "trainer.devices='two' must be a number"),
        ("ddp", 2, "mps", "not on MPS; set trainer.devices=1 or trainer.accelerator=cpu"),
        ("ddp", 2, "cuda:1", "trainer.accelerator=cuda:1 names one GPU"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(
    strategy: str, devices: Any, device: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        processes_wanted(strategy, devices, torch.device(device))


def test_more_devices_than_gpus_is_one_clear_error() -> None:
    gpus = torch.cuda.device_count()
    with pytest.raises(
        ConfigError, match=f"this machine has {gpus} CUDA GPU.*trainer.devices={gpus} or fewer"
    ):
        processes_wanted("ddp", max(gpus + 1, 2), torch.device("cuda"))


def test_several_devices_outside_torchrun_say_how_to_start_them(torchrun_env: Any) -> None:
    with pytest.raises(ConfigError, match=r"torchrun --nproc_per_node=2 -m trainer.cli train"):
        Trainer(accelerator="cpu", devices=2)
    # devices above one means DDP whatever the strategy (Lightning's reading); the CLI starts them.
    assert processes_to_launch(strategy="auto", devices=2, accelerator="cpu") == 2


def test_under_torchrun_the_settings_must_match_its_processes(torchrun_env: Any) -> None:
    torchrun_env(1, 2, 2)
    assert resolve_world("ddp", 2, CPU) == World(rank=1, local_rank=1, world_size=2, local_world_size=2)
    assert resolve_world("auto", "auto", CPU).world_size == 2  # torchrun's processes make it DDP
    assert processes_to_launch(strategy="ddp", devices=2, accelerator="cpu") == 0  # never launches again
    with pytest.raises(ConfigError, match=r"torchrun started 2 processes .* set trainer.devices=2 or auto"):
        resolve_world("ddp", 3, CPU)


def test_the_relaunch_is_torchrun_running_this_cli_with_the_same_arguments() -> None:
    command = torchrun_command(2, ["train", "trainer.devices=2", "data=wine"])
    assert command == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "trainer.cli",
        "train",
        "trainer.devices=2",
        "data=wine",
    ]


def test_one_process_makes_no_process_group_and_no_collective(
    datamodule: Any, module: Any, tmp_path: Path
) -> None:
    trainer = Trainer(accelerator="cpu", strategy="ddp", devices=1, max_epochs=1, default_root_dir=tmp_path)
    trainer.fit(module(), datamodule())
    assert not dist.is_initialized()
    assert (trainer.world_size, trainer.global_rank, trainer.is_global_zero) == (1, 0, True)


def test_a_ddp_process_only_records_signals_until_the_ranks_agree() -> None:
    with Preemption(deferred=True) as preemption:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # torchrun's copy of a terminal's signal: caught too
        assert (preemption.received, preemption.signum) == (signal.SIGTERM, 0)


# ---------------------------------------------------------------------- 2 processes
@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every scenario of ``ddp_worker`` run once by torchrun in 2 gloo processes; their outputs."""
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={ddp_worker.WORLD}",
        "-m",
        "tests.engine.ddp_worker",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return out


def _ranks(out: Path, scenario: str) -> list[dict[str, Any]]:
    return [torch.load(out / f"{scenario}-rank{r}.pt", weights_only=False) for r in range(ddp_worker.WORLD)]


def _assert_close_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def _assert_close_metrics(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["plain", "accumulate", "dataloader"])
def test_two_processes_match_one_process_on_the_same_global_batch(
    ddp_results: Path, scenario: str, tmp_path: Path
) -> None:
    ranks = _ranks(ddp_results, scenario)
    # The DataLoader path on 2 ranks against device batches in one process: the same rows in order.
    reference = ddp_worker.plain if scenario == "dataloader" else ddp_worker.SCENARIOS[scenario]
    single = reference(tmp_path, 1)
    for rank in ranks:
        assert rank["global_step"] == single["global_step"]
        _assert_close_weights(rank["weights"], single["weights"])
        assert len(rank["history"]) == len(single["history"]) == ddp_worker.EPOCHS
        for mine, theirs in zip(rank["history"], single["history"], strict=True):
            _assert_close_metrics(mine, theirs)  # train/loss averaged over ranks, val/* over all rows
    assert all(torch.equal(ranks[0]["weights"][k], ranks[1]["weights"][k]) for k in ranks[0]["weights"])
    if scenario == "plain":
        for split in ("val", "test"):  # AUC and AP of every row, the same number on each rank
            assert ranks[0][split] == ranks[1][split]
            _assert_close_metrics(ranks[0][split], single[split])


@pytest.mark.slow
def test_rank_zero_writes_plain_checkpoints_that_every_rank_resumes_from(
    ddp_results: Path, tmp_path: Path
) -> None:
    ranks = _ranks(ddp_results, "checkpoint_resume")
    uninterrupted = ddp_worker.plain(tmp_path, 1)
    # 2 epochs, then a resume to 3 on both ranks: the weights of 3 epochs without a stop.
    for rank in ranks:
        _assert_close_weights(rank["weights"], uninterrupted["weights"])
        _assert_close_metrics(rank["test"], uninterrupted["test"])
    assert ranks[0]["best"] == ranks[1]["best"]
    folder = ddp_results / "checkpoint_resume" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["last.ckpt", Path(ranks[0]["best"]).name])
    state = load_checkpoint(folder / "last.ckpt")
    assert state["model"].keys() == uninterrupted["weights"].keys()  # no DDP "module." prefix
    assert state["global_step"] == ranks[0]["global_step"]


@pytest.mark.slow
def test_a_signal_on_one_rank_stops_every_rank_at_the_same_step(ddp_results: Path) -> None:
    ranks = _ranks(ddp_results, "signal_one_rank")
    assert [r["preempted"] for r in ranks] == [15, 15]  # SIGTERM, though only rank 1 received it
    assert [r["global_step"] for r in ranks] == [7, 7]
    state = load_checkpoint(ranks[0]["checkpoint"])
    assert state["global_step"] == 7 and state["progress"]["batch"] == 2  # epoch 2, after 2 of 5 batches
