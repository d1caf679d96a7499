"""What the Trainer asks of callbacks beyond hooks is declared: state, and the checkpoint files."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from trainer.engine import Trainer
from trainer.engine.callback_protocols import CheckpointCallback, StatefulCallback, state_key
from trainer.engine.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint


class OwnCheckpoints:
    """A checkpoint writer of a user's own, with no base class and no ModelCheckpoint in sight."""

    def __init__(self) -> None:
        self.save_last = True
        self.best_model_path = ""
        self.last_model_path = ""
        self.writes = 0

    def write_last(self, trainer: Any) -> Path:
        self.writes += 1
        self.last_model_path = str(Path(trainer.default_root_dir) / "own_last.ckpt")
        return trainer.save_checkpoint(self.last_model_path)


def test_model_checkpoint_is_a_checkpoint_callback_and_stateful():
    checkpoint = ModelCheckpoint()
    assert isinstance(checkpoint, CheckpointCallback)
    assert isinstance(checkpoint, StatefulCallback)
    assert not isinstance(EarlyStopping(), CheckpointCallback)


def test_the_trainer_finds_the_first_checkpoint_callback_by_what_it_offers():
    own, model_checkpoint = OwnCheckpoints(), ModelCheckpoint()
    trainer = Trainer(accelerator="cpu", callbacks=[LearningRateMonitor(), own, model_checkpoint])
    assert trainer.checkpoint_callback is own
    assert Trainer(accelerator="cpu").checkpoint_callback is None


def test_a_stop_between_epochs_writes_last_through_the_checkpoint_callback(datamodule, module, tmp_path):
    own = OwnCheckpoints()
    trainer = Trainer(
        accelerator="cpu", max_epochs=5, max_steps=3, callbacks=[own], default_root_dir=tmp_path
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert own.writes == 1 and Path(own.last_model_path).is_file()


def test_state_key_is_the_callbacks_own_or_its_class_name():
    assert state_key(EarlyStopping()) == "EarlyStopping"
    assert state_key(OwnCheckpoints()) == "OwnCheckpoints"


def test_no_engine_module_outside_callbacks_imports_a_callback():
    # The circle engine/trainer.py <-> callbacks/model_checkpoint.py is gone: the loop finds
    # the checkpoint callback by protocol. Checked on the source, without importing anything.
    engine = Path(inspect.getfile(Trainer)).parent
    offenders = []
    for path in engine.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "trainer.engine.callbacks"
            ):
                offenders.append(f"{path.name}: {node.module}")
    assert offenders == []
