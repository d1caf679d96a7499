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


class _Talker:
    """A callback that logs a line at each epoch's end, as any library might mid-fit."""

    def on_train_epoch_end(self, trainer: Trainer, module: object, metrics: dict[str, float]) -> None:
        logging.getLogger("trainer.talk").warning("a word from a callback")


def test_a_terminal_keeps_one_compact_line_per_epoch_and_log_lines_stay_off_the_bar(
    classes_data: TensorDataModule,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from trainer.engine.callbacks import ModelCheckpoint

    monkeypatch.setenv("COLUMNS", "100")
    handler = logging.StreamHandler(sys.stdout)  # a console handler, as the CLI sets up
    logging.getLogger().addHandler(handler)
    try:
        torch.manual_seed(0)
        module = make_module(MLP(in_features=8, out_features=3, hidden_sizes=[8]), MulticlassObjective())
        bar = ProgressBar(refresh_every_n_steps=1, force_terminal=True)
        checkpoint = ModelCheckpoint(monitor="val/accuracy", mode="max")
        Trainer(
            accelerator="cpu", max_epochs=3, callbacks=[bar, checkpoint, _Talker()], default_root_dir=tmp_path
        ).fit(module, classes_data)
    finally:
        logging.getLogger().removeHandler(handler)
    assert handler.stream is sys.stdout  # put back when the bar closed
    # Each redraw starts its line again (\r): split on both to see what stays on screen.
    lines = [
        line.strip() for line in re.split(r"[\r\n]", ANSI.sub("", capsys.readouterr().out)) if line.strip()
    ]
    epochs = [
        line
        for line in lines
        if re.fullmatch(r"epoch \d/3  train/loss=\S+  val/loss=\S+  val/accuracy=\S+", line)
    ]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]  # counted from 1, as the bar
    assert all(len(line) <= 80 for line in epochs)
    words = [line for line in lines if "a word from a callback" in line]
    assert len(words) == 3 and all(
        line == "a word from a callback" for line in words
    )  # never glued to the bar
