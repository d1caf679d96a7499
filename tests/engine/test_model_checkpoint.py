"""ModelCheckpoint's top-k and last.ckpt, and the checkpoint file format itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.callbacks import ModelCheckpoint
from trainer.engine.checkpoint import CHECKPOINT_KEYS, load_checkpoint, save_checkpoint
from trainer.errors import ConfigError, UserError


def _adam(p):
    return torch.optim.Adam(p, lr=0.02)


def _fit(datamodule, module, tmp_path, *, epochs=5, kind="binary", flip_val=True, logger=None, **ckpt):
    """Fit with a ModelCheckpoint writing to tmp_path/ckpt; returns (trainer, callback, module)."""
    dm = datamodule(kind)
    if flip_val:
        # Validation labels against the training rule: val/loss first falls, then rises,
        # so the best epochs are neither the first nor the last ones.
        x, y = dm.val
        dm.val = (x, 1.0 - y)
    callback = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), **ckpt)
    trainer = Trainer(
        accelerator="cpu", max_epochs=epochs, callbacks=[callback], logger=logger, default_root_dir=tmp_path
    )
    mod = module(kind, optimizer_factory=_adam)
    trainer.fit(mod, dm)
    return trainer, callback, mod


def _epoch_files(directory: Path) -> dict[int, Path]:
    files = {}
    for path in directory.glob("epoch_*.ckpt"):
        match = re.match(r"epoch_(\d+)-", path.name)
        assert match, path.name
        files[int(match.group(1))] = path
    return files


@pytest.mark.parametrize(("mode", "k"), [("min", 2), ("min", 1), ("max", 3)])
def test_save_top_k_keeps_exactly_the_k_best_files(mode, k, datamodule, module, tmp_path):
    monitor = "val/loss" if mode == "min" else "val/accuracy"
    trainer, callback, _ = _fit(datamodule, module, tmp_path, monitor=monitor, mode=mode, save_top_k=k)
    scores = {row["epoch"]: row[monitor] for row in trainer.history}
    ranked = sorted(scores, key=scores.__getitem__, reverse=mode == "max")
    files = _epoch_files(tmp_path / "ckpt")
    assert len(files) == k
    # Ties at the k-th place keep the earlier epoch (a later equal score is no improvement).
    assert sorted(scores[e] for e in files) == sorted(scores[e] for e in ranked[:k])
    best_epoch = ranked[0]
    assert callback.best_model_score == pytest.approx(scores[best_epoch])
    assert scores[int(re.match(r".*epoch_(\d+)-", callback.best_model_path).group(1))] == scores[best_epoch]
    assert set(callback.best_k) == {str(p) for p in files.values()}
    for epoch, path in files.items():
        state = load_checkpoint(path)
        assert state["epoch"] == epoch
        assert state["metrics"][monitor] == pytest.approx(callback.best_k[str(path)])
        assert f"{scores[epoch]:.4f}" in path.name


def test_save_top_k_minus_one_keeps_all_and_zero_keeps_none(datamodule, module, tmp_path):
    _fit(datamodule, module, tmp_path / "all", epochs=4, save_top_k=-1)
    assert sorted(_epoch_files(tmp_path / "all" / "ckpt")) == [1, 2, 3, 4]
    _, callback, _ = _fit(datamodule, module, tmp_path / "none", epochs=4, save_top_k=0)
    assert _epoch_files(tmp_path / "none" / "ckpt") == {}
    assert callback.best_model_path == ""
    assert (tmp_path / "none" / "ckpt" / "last.ckpt").is_file()


def test_save_last_holds_the_final_state(datamodule, module, memory_logger, tmp_path):
    trainer, callback, mod = _fit(datamodule, module, tmp_path, epochs=3, logger=memory_logger)
    last = tmp_path / "ckpt" / "last.ckpt"
    assert callback.last_model_path == str(last)
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert set(state) == CHECKPOINT_KEYS
    assert state["format_version"] == 1
    assert state["epoch"] == 3
    assert state["global_step"] == trainer.global_step == 24
    assert state["tracking_run_id"] == "memory-run"
    assert state["metrics"] == trainer.callback_metrics
    final = mod.model.state_dict()
    assert set(state["model"]) == set(final)
    assert all(torch.equal(state["model"][k], final[k]) for k in final)
    assert state["optimizer"]["state"]  # Adam's moments are in there
    assert state["callbacks"]["ModelCheckpoint"]["best_model_path"] == callback.best_model_path
    assert not list((tmp_path / "ckpt").glob(".*.tmp"))  # atomic writes leave no temporaries


def test_save_last_false_writes_no_last_ckpt(datamodule, module, tmp_path):
    _, callback, _ = _fit(datamodule, module, tmp_path, epochs=2, save_last=False)
    assert not (tmp_path / "ckpt" / "last.ckpt").exists()
    assert callback.last_model_path == ""
    assert len(_epoch_files(tmp_path / "ckpt")) == 1


def test_every_checkpoint_file_loads_with_weights_only(datamodule, module, tmp_path):
    _fit(datamodule, module, tmp_path, epochs=3, save_top_k=-1)
    files = list((tmp_path / "ckpt").glob("*.ckpt"))
    assert len(files) == 4
    for path in files:
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert set(state) == CHECKPOINT_KEYS


def test_monitor_none_keeps_only_last(datamodule, module, tmp_path):
    _, callback, _ = _fit(datamodule, module, tmp_path, epochs=2, monitor=None)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["last.ckpt"]
    assert callback.best_model_path == ""


def test_every_n_epochs(datamodule, module, tmp_path):
    _fit(datamodule, module, tmp_path, epochs=5, every_n_epochs=2, save_top_k=-1)
    assert sorted(_epoch_files(tmp_path / "ckpt")) == [2, 4]
    assert load_checkpoint(tmp_path / "ckpt" / "last.ckpt")["epoch"] == 4


def test_default_directory_is_checkpoints_in_the_run_folder(datamodule, module, tmp_path):
    trainer = Trainer(
        accelerator="cpu", max_epochs=1, callbacks=[ModelCheckpoint()], default_root_dir=tmp_path / "run"
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_checkpoint_skips_epochs_without_validation(datamodule, module, tmp_path):
    callback = ModelCheckpoint(dirpath=str(tmp_path), monitor="val/loss", save_top_k=-1)
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=4,
        check_val_every_n_epoch=2,
        callbacks=[callback],
        default_root_dir=tmp_path,
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert sorted(_epoch_files(tmp_path)) == [2, 4]


def test_missing_monitor_is_a_config_error(datamodule, module, tmp_path):
    with pytest.raises(ConfigError, match=r"model_checkpoint.monitor='val/acc' is not among"):
        _fit(datamodule, module, tmp_path, epochs=1, monitor="val/acc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "best"}, "callbacks.model_checkpoint.mode='best' is not known"),
        ({"save_top_k": -2}, "save_top_k=-2"),
        ({"every_n_epochs": 0}, "every_n_epochs=0 must be 1 or more"),
    ],
)
def test_bad_options_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelCheckpoint(**kwargs)


def test_wants_is_a_pure_top_k_decision():
    callback = ModelCheckpoint(mode="min", save_top_k=2)
    assert callback.wants(1.0)
    callback.best_k = {"a": 1.0, "b": 2.0}
    assert callback.wants(1.5)  # beats the worst (2.0)
    assert not callback.wants(2.0)
    assert not callback.wants(float("nan"))
    assert not ModelCheckpoint(save_top_k=0).wants(0.0)


def test_test_with_best_checkpoint_uses_its_weights(datamodule, module, tmp_path):
    trainer, callback, mod = _fit(datamodule, module, tmp_path, epochs=5, save_top_k=1)
    best = load_checkpoint(callback.best_model_path)
    assert best["epoch"] < 5  # the best is not the final state: loading it changes the weights
    metrics = trainer.test(mod, datamodule("binary"), ckpt_path="best")
    assert all(torch.equal(v, best["model"][k]) for k, v in mod.model.state_dict().items())
    again = trainer.test(mod, datamodule("binary"))
    assert metrics == again


def test_best_without_a_checkpoint_callback_is_a_user_error(datamodule, module, tmp_path):
    trainer = Trainer(accelerator="cpu", max_epochs=1, default_root_dir=tmp_path)
    with pytest.raises(UserError, match="ckpt_path='best' needs a ModelCheckpoint"):
        trainer.test(module("binary"), datamodule("binary"), ckpt_path="best")


# ---------------------------------------------------------------- the file format


@pytest.fixture
def last_ckpt(datamodule, module, tmp_path) -> Path:
    _fit(datamodule, module, tmp_path, epochs=1, flip_val=False)
    return tmp_path / "ckpt" / "last.ckpt"


def test_unknown_extra_keys_are_a_user_error(last_ckpt, tmp_path, datamodule, module):
    state = torch.load(last_ckpt, weights_only=True)
    state["lightning_version"] = "2.4"
    foreign = tmp_path / "foreign.ckpt"
    torch.save(state, foreign)
    with pytest.raises(UserError, match=r"keys this trainer does not know: \['lightning_version'\]"):
        load_checkpoint(foreign)
    trainer = Trainer(accelerator="cpu", max_epochs=2, default_root_dir=tmp_path)
    with pytest.raises(UserError, match="lightning_version"):
        trainer.fit(module("binary"), datamodule("binary"), ckpt_path=foreign)


def test_missing_keys_are_a_user_error(last_ckpt, tmp_path, datamodule, module):
    state = torch.load(last_ckpt, weights_only=True)
    del state["rng"], state["callbacks"]
    partial = tmp_path / "partial.ckpt"
    torch.save(state, partial)
    with pytest.raises(UserError, match=r"lacks keys \['callbacks', 'rng'\]"):
        load_checkpoint(partial)
    # A resume from it stops with that message, not a KeyError from inside the Trainer.
    trainer = Trainer(accelerator="cpu", max_epochs=2, default_root_dir=tmp_path)
    with pytest.raises(UserError, match="lacks keys"):
        trainer.fit(module("binary"), datamodule("binary"), ckpt_path=partial)


def test_missing_unreadable_and_foreign_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(
        UserError, match="not a checkpoint: it is a text file starting with 'not a checkpoint at all'"
    ):
        load_checkpoint(garbage)
    plain = tmp_path / "plain.ckpt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(UserError, match="not a checkpoint written by this trainer"):
        load_checkpoint(plain)


def test_a_pickled_object_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"format_version": 1, "model": Path("/")}, path)  # not a tensor/container
    with pytest.raises(UserError, match="could not be read"):
        load_checkpoint(path)


def test_other_format_version_is_a_user_error(last_ckpt, tmp_path):
    state = torch.load(last_ckpt, weights_only=True)
    state["format_version"] = 99
    path = tmp_path / "v99.ckpt"
    torch.save(state, path)
    with pytest.raises(UserError, match="format version 99"):
        load_checkpoint(path)


def test_save_checkpoint_refuses_unknown_keys(tmp_path):
    with pytest.raises(ValueError, match="unknown keys"):
        save_checkpoint({"model": {}, "surprise": 1}, tmp_path / "x.ckpt")
    assert not list(tmp_path.iterdir())


def test_weights_of_another_model_are_a_user_error(last_ckpt, tmp_path, datamodule, module):
    other = module("binary", hidden_sizes=(5,))
    trainer = Trainer(accelerator="cpu", default_root_dir=tmp_path)
    with pytest.raises(UserError, match="do not fit this model"):
        trainer.validate(other, datamodule("binary"), ckpt_path=last_ckpt)


def test_validate_from_a_checkpoint_loads_its_weights(last_ckpt, tmp_path, datamodule, module, snapshot):
    fresh = module("binary", seed=99)
    saved = load_checkpoint(last_ckpt)["model"]
    assert not all(torch.equal(saved[k], v) for k, v in snapshot(fresh).items())
    Trainer(accelerator="cpu", default_root_dir=tmp_path).validate(
        fresh, datamodule("binary"), ckpt_path=last_ckpt
    )
    assert all(torch.equal(saved[k], v) for k, v in snapshot(fresh).items())


def test_config_is_stored_and_restored(datamodule, module, tmp_path):
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        callbacks=[ModelCheckpoint(dirpath=str(tmp_path), monitor=None)],
        default_root_dir=tmp_path,
    )
    trainer.config = {"model": {"hidden_sizes": [16]}, "seed": 3}
    trainer.fit(module("binary"), datamodule("binary"))
    assert load_checkpoint(tmp_path / "last.ckpt")["config"] == {"model": {"hidden_sizes": [16]}, "seed": 3}
    other = Trainer(accelerator="cpu", default_root_dir=tmp_path)
    other.validate(module("binary"), datamodule("binary"), ckpt_path=tmp_path / "last.ckpt")
    assert other.config == {"model": {"hidden_sizes": [16]}, "seed": 3}
