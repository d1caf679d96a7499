"""Live progress within an epoch on a terminal; plain per-epoch lines otherwise."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.callbacks import ProgressBar
from trainer.models import MLP
from trainer.tasks import MulticlassObjective

from .conftest import TensorDataModule, make_module

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _fit(bar: ProgressBar, data: TensorDataModule, root: Path) -> None:
    torch.manual_seed(0)
    module = make_module(MLP(in_features=8, out_features=3, hidden_sizes=[8]), MulticlassObjective())
    Trainer(accelerator="cpu", max_epochs=2, callbacks=[bar], default_root_dir=root).fit(module, data)


def test_a_terminal_gets_a_live_bar_with_batches_loss_rate_and_eta(
    classes_data: TensorDataModule,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # a wide terminal: rich would elide columns at its default 80
    _fit(ProgressBar(refresh_every_n_steps=1, force_terminal=True), classes_data, tmp_path)
    out = ANSI.sub("", capsys.readouterr().out)
    assert "epoch 2/2" in out
    assert "8/8" in out  # batches done / batches in the epoch (256 rows / 32)
    assert "batch/s" in out
    assert "ETA" in out
    assert "loss=" in out or "train/loss=" in out


def test_a_pipe_gets_one_plain_line_per_epoch(
    classes_data: TensorDataModule,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="trainer.progress"):
        _fit(ProgressBar(force_terminal=False), classes_data, tmp_path)
    assert capsys.readouterr().out == ""  # no bar, no control characters in a log file
    lines = [r.getMessage() for r in caplog.records if r.name == "trainer.progress"]
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2") and "train/loss=" in lines[0] and "val/accuracy=" in lines[0]
