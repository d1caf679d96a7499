"""Callbacks watch the objective's own metric unless one is set (monitor/mode = auto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import compose_config
from trainer.engine.callbacks import EarlyStopping, ModelCheckpoint
from trainer.train import train

FAST = ["trainer.max_epochs=2", "trainer.accelerator=cpu", "logger=none", "callbacks.progress=null"]


@pytest.mark.parametrize(
    ("data", "monitor", "mode"),
    [("breast_cancer", "val/ap", "max"), ("wine", "val/accuracy", "max"), ("diabetes", "val/loss", "min")],
)
def test_auto_monitor_follows_the_objective(data: str, monitor: str, mode: str, tmp_path: Path) -> None:
    seen: dict[str, tuple[str, str]] = {}

    class Spy:  # reads what the configured callbacks resolved at the start of the fit
        def on_train_epoch_start(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
            for cb in trainer.callbacks:
                if isinstance(cb, EarlyStopping | ModelCheckpoint):
                    seen[type(cb).__name__] = (cb.monitor, cb.mode)

    result = train(compose_config([f"data={data}", *FAST, f"paths.runs_dir={tmp_path}"]), callbacks=[Spy()])
    assert seen == {"EarlyStopping": (monitor, mode), "ModelCheckpoint": (monitor, mode)}
    assert monitor.replace("/", "_") in Path(result.best_checkpoint).name


def test_a_named_monitor_gets_its_direction_from_its_name(tmp_path: Path) -> None:
    assert EarlyStopping(monitor="val/loss").mode == "min"
    assert EarlyStopping(monitor="val/f1").mode == "max"
    assert ModelCheckpoint(monitor="val/rmse").mode == "min"
    assert EarlyStopping(monitor="val/loss", mode="max").mode == "max"  # a set mode wins
