"""A resume whose settings differ from the checkpoint's run says so, naming both values."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainer.engine import Trainer
from trainer.engine.callbacks import ModelCheckpoint
from trainer.engine.resume_changes import NOT_SET, changed_settings


def _config(batch_size: int, *, eval_batch_size: int = 64, max_epochs: int = 1) -> dict[str, Any]:
    """The resolved run config a Trainer stores in its checkpoints (the parts that matter here)."""
    return {
        "seed": 7,
        "data": {"batch_size": batch_size, "eval_batch_size": eval_batch_size, "seed": 7},
        "optimizer": {"_target_": "trainer.optim.adam", "lr": 0.01},
        "trainer": {"max_epochs": max_epochs, "accumulate_grad_batches": 1},
        "paths": {"run_dir": "runs/x"},
    }


def _fit(
    datamodule: Callable[..., Any],
    module: Callable[..., Any],
    folder: Path,
    *,
    config: dict[str, Any],
    max_epochs: int,
    ckpt_path: Path | None = None,
) -> None:
    data = datamodule("binary", batch_size=config["data"]["batch_size"])
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        callbacks=[ModelCheckpoint(dirpath=str(folder), save_last=True)],
        default_root_dir=folder,
    )
    trainer.config = config
    trainer.fit(module("binary"), data, ckpt_path=ckpt_path)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_resume_with_another_batch_size_names_both_values(
    datamodule: Callable[..., Any],
    module: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _fit(datamodule, module, tmp_path, config=_config(32), max_epochs=1)
    later = _config(64, eval_batch_size=256, max_epochs=2)  # eval batches and epochs do not count
    with caplog.at_level(logging.WARNING, logger="trainer"):
        _fit(datamodule, module, tmp_path, config=later, max_epochs=2, ckpt_path=tmp_path / "last.ckpt")
    [message] = _warnings(caplog)
    assert message.startswith(
        "Resuming with settings that differ from the checkpoint's run: data.batch_size=64 (checkpoint: 32). "
    )
    assert "this is not an exact resume" in message
    assert message.endswith("For an exact resume, pass data.batch_size=32.")


def test_a_resume_with_the_same_settings_says_nothing(
    datamodule: Callable[..., Any],
    module: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _fit(datamodule, module, tmp_path, config=_config(32), max_epochs=1)
    with caplog.at_level(logging.WARNING, logger="trainer"):
        _fit(
            datamodule,
            module,
            tmp_path,
            config=_config(32, max_epochs=2),
            max_epochs=2,
            ckpt_path=tmp_path / "last.ckpt",
        )
    assert _warnings(caplog) == []


def test_every_trajectory_setting_is_compared_and_the_rest_is_not() -> None:
    saved = _config(32)
    now = _config(32)
    now["optimizer"]["lr"] = 0.001
    now["model"] = {"hidden_sizes": [8]}
    now["trainer"]["accumulate_grad_batches"] = 2
    now["paths"]["run_dir"] = "runs/y"
    assert changed_settings(saved, now) == [
        ("model.hidden_sizes", [8], NOT_SET),
        ("optimizer.lr", 0.001, 0.01),
        ("trainer.accumulate_grad_batches", 2, 1),
    ]
