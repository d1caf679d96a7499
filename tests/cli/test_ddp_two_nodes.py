"""Two machines under torchrun, played by two torchrun agents on this one, each in its own folder.

``torchrun --nnodes=2 --node_rank=K --master_addr=... -m trainer.cli train trainer.strategy=ddp``
is how a user runs across machines. The second node's process has ``LOCAL_RANK=0`` but global
rank 1: it must train its shard and stay off the disk, since its folder is another machine's
disk. Everything the run leaves (run folder, MLflow store) is on node 0, once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CONF


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_two_nodes(tmp_path: Path, *overrides: str) -> list[tuple[int, str, str]]:
    """Start one torchrun agent per node folder with the same command line; (status, out, err) each."""
    port = _free_port()
    env = {**os.environ, "TRAINER_CONF_DIR": str(CONF), "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
    agents = []
    for node_rank in (0, 1):
        folder = tmp_path / f"node{node_rank}"
        folder.mkdir()
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes=2",
            f"--node_rank={node_rank}",
            "--nproc_per_node=1",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            "-m",
            "trainer.cli",
            "train",
            "trainer.strategy=ddp",
            "trainer.accelerator=cpu",
            "trainer.max_epochs=2",
            "callbacks.progress=null",
            # The same relative paths on both nodes, as one command line on every machine would be.
            "logger.tracking_uri=sqlite:///mlflow.db",
            "logger.experiment_name=two_nodes",
            "paths.runs_dir=runs",
            *overrides,
        ]
        agents.append(
            subprocess.Popen(
                command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    results = []
    for agent in agents:
        try:
            out, err = agent.communicate(timeout=600)
        finally:
            if agent.poll() is None:
                agent.kill()
        results.append((agent.returncode, out, err))
    return results


@pytest.mark.slow
def test_two_nodes_of_one_process_each_train_one_run_and_only_node_zero_writes(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    results = _run_two_nodes(tmp_path)
    for status, out, err in results:
        assert status == 0, out[-3000:] + err[-5000:]

    node0, node1 = tmp_path / "node0", tmp_path / "node1"
    # Node 1 trained and tested (rank 0 sent it the best weights) but left nothing on its disk.
    assert list(node1.iterdir()) == []
    assert results[0][1].count("Final metrics") == 1 and "Final metrics" not in results[1][1]
    (run_dir,) = (node0 / "runs").iterdir()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{node0 / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("two_nodes")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["world_size"] == "2"
    assert {"test/loss", "test/accuracy"} <= set(run.data.metrics)


@pytest.mark.slow
def test_a_missing_checkpoint_on_node_zero_stops_both_nodes_with_its_message(tmp_path: Path) -> None:
    # Rank 0 alone reads checkpoints; its error must reach rank 1, which would otherwise wait forever.
    results = _run_two_nodes(tmp_path, "ckpt_path=runs/gone/checkpoints/last.ckpt")
    for status, out, err in results:
        assert status != 0, out[-2000:]
        assert "ckpt_path='runs/gone/checkpoints/last.ckpt' does not exist" in out + err
