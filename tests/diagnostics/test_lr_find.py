"""``trainer lr-find``: the suggestion lands in the known good range; the model is not touched."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from trainer.commands.diagnose import lr_find_command
from trainer.data import TensorBatches
from trainer.diagnostics.lr_find import lr_range_test
from trainer.errors import ConfigError

from .conftest import linear_problem, make_module


def _divergence_lr(x: torch.Tensor) -> float:
    """Plain gradient descent on mean squared error diverges above 2 / the Hessian's top eigenvalue."""
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1)  # the bias is a weight on a column of ones
    hessian = 2 * design.T @ design / len(x)
    return 2 / float(torch.linalg.eigvalsh(hessian).max())


def test_suggestion_falls_in_the_known_good_range_of_least_squares() -> None:
    torch.manual_seed(0)
    x, y = linear_problem(2000)
    module = make_module(nn.Linear(5, 1), optimizer=functools.partial(torch.optim.SGD))
    result = lr_range_test(
        module, TensorBatches(x, y, batch_size=64, shuffle=True), min_lr=1e-5, max_lr=100.0, num_steps=200
    )
    limit = _divergence_lr(x)  # about 0.9 here
    # Good: fast but stable; from a hundredth of the divergence limit up to the limit itself.
    assert limit / 100 < result.suggestion < limit
    assert result.stopped == "diverged"
    assert result.min_loss_lr > result.suggestion
    assert result.steepest_lr is not None and result.steepest_lr < result.min_loss_lr
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) < 200
    growth = [b / a for a, b in zip(result.lrs, result.lrs[1:], strict=False)]
    assert max(growth) == pytest.approx(min(growth))  # exponential schedule


def test_the_range_test_works_on_a_copy() -> None:
    torch.manual_seed(0)
    x, y = linear_problem(256)
    module = make_module(nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    lr_range_test(module, TensorBatches(x, y, batch_size=32), num_steps=50, max_lr=1.0)
    assert all(torch.equal(module.state_dict()[k], v) for k, v in before.items())
    assert all(p.grad is None for p in module.parameters())


def test_bad_ranges_are_config_errors() -> None:
    module = make_module(nn.Linear(5, 1))
    batches = TensorBatches(*linear_problem(32), batch_size=8)
    with pytest.raises(ConfigError, match="min_lr"):
        lr_range_test(module, batches, min_lr=1.0, max_lr=0.1)
    with pytest.raises(ConfigError, match="num_steps"):
        lr_range_test(module, batches, num_steps=3)


def test_lr_find_command_saves_the_plot_logs_it_and_prints_the_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = lr_find_command(
        [
            "model.hidden_sizes=[8]",
            "logger=csv",
            f"paths.runs_dir={tmp_path}",
            "lr_find.num_steps=60",
            "lr_find.min_lr=1e-5",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    assert "lr_find" in run_dir.name and "=" not in run_dir.name
    assert (run_dir / "lr_find.png").stat().st_size > 0
    assert (run_dir / "figures" / "lr_find.png").is_file()  # the CSV logger's copy of the artifact
    metrics = (run_dir / "metrics.csv").read_text()
    assert "lr_find/smoothed_loss" in metrics
    suggested = [line for line in out.splitlines() if line.startswith("Suggested: optimizer.lr=")]
    assert suggested and math.isfinite(float(suggested[0].split("=", 1)[1]))
    assert "trainer train model.hidden_sizes=[8] logger=csv" in out


@pytest.mark.slow
def test_lr_find_is_recorded_in_mlflow(tmp_path: Path) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [f"logger.tracking_uri={uri}", f"paths.runs_dir={tmp_path / 'runs'}", "lr_find.num_steps=30"]
    assert lr_find_command([*args, "logger.experiment_name=lr_find_test"]) == 0
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("lr_find_test")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["command"] == "lr-find"
    assert float(run.data.tags["lr_find.suggested_lr"]) > 0
    assert "lr_find/smoothed_loss" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/lr_find.png" in artifacts


def test_lr_find_options_come_from_its_conf_file_and_bad_ones_are_named() -> None:
    with pytest.raises(ConfigError, match=r"lr_find\.steps is not a key of 'lr_find'.*num_steps"):
        lr_find_command(["lr_find.steps=300"])
    with pytest.raises(ConfigError, match=r"lr_find\.max_lr='high' must be a number"):
        lr_find_command(["lr_find.max_lr=high"])
    with pytest.raises(ConfigError, match=r"lr_find\.num_steps=3 is too few"):
        lr_find_command(["lr_find.num_steps=3"])


@pytest.mark.slow
def test_ctrl_c_during_lr_find_ends_its_mlflow_run_killed(tmp_path: Path) -> None:
    """A real SIGINT to ``trainer lr-find`` mid-test: exit 130, and the run is KILLED, not FAILED."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    conf = Path(__file__).resolve().parents[2] / "conf"
    # A range that neither diverges nor ends for hours: the Ctrl-C lands inside the test's steps.
    args = ["lr_find.min_lr=1e-9", "lr_find.max_lr=1e-8", "lr_find.num_steps=100000000"]
    args += [
        f"logger.tracking_uri={uri}",
        "logger.experiment_name=lr_find_kill",
        f"paths.runs_dir={tmp_path}",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "trainer.cli", "lr-find", *args],
        cwd=tmp_path,
        env={**os.environ, "TRAINER_CONF_DIR": str(conf)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        # The run's journal holds the params once the run started and the block is running; the
        # MLflow store is read only after the process ended (no second writer meanwhile).
        while (
            time.monotonic() < deadline
            and process.poll() is None
            and not _journal_has(tmp_path, "lr_find.min_lr")
        ):
            time.sleep(0.5)
        assert process.poll() is None, process.communicate()
        time.sleep(1.0)  # well into the range test's steps
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("lr_find_kill")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "KILLED"
    assert "error" not in run.data.tags


def _journal_has(runs: Path, text: str) -> bool:
    return any(text in journal.read_text() for journal in runs.glob("*/tracking_journal.jsonl"))
