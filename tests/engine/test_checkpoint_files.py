"""A file that is not a checkpoint is named for what it is; a checkpoint is checked against the model."""

from __future__ import annotations

import gzip
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from trainer.config import compose_config
from trainer.engine.checkpoint import check_checkpoint_fits, load_checkpoint, save_checkpoint
from trainer.errors import UserError
from trainer.models import MLP


def _message(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"a,b,y\n1,2,0\n", "a text file starting with 'a,b,y'"),
        (b"epoch,loss\n1,0.5\n", "a text file starting with 'epoch,loss'"),  # torch said only "101"
        (gzip.compress(b"hello", mtime=0), "a gzip file"),  # mtime=0: the same bytes at every collection
        (b"", "an empty file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "last.ckpt"
    path.write_bytes(content)
    message = _message(path)
    assert f"is not a checkpoint: it is {what}." in message
    assert "last.ckpt" in message and "Pass a .ckpt file" in message


def _mlp(hidden: list[int]) -> MLP:
    return MLP(in_features=4, out_features=2, hidden_sizes=hidden)


def _save(path: Path, model: torch.nn.Module, model_config: dict[str, Any]) -> Path:
    state = {
        "model": model.state_dict(),
        "optimizer": {},
        "scheduler": {},
        "grad_scaler": {},
        "epoch": 1,
        "global_step": 3,
        "callbacks": {},
        "rng": {"torch": torch.get_rng_state()},
        "config": {"model": model_config},
        "tracking_run_id": "",
        "metrics": {},
    }
    return save_checkpoint(state, path)


def test_a_checkpoint_that_fits_is_returned_loaded(tmp_path: Path) -> None:
    path = _save(tmp_path / "last.ckpt", _mlp([8]), {"hidden_sizes": [8]})
    state = check_checkpoint_fits(path, _mlp([8]))
    assert state["global_step"] == 3 and set(state["model"]) == set(_mlp([8]).state_dict())


def test_a_checkpoint_of_another_model_names_shapes_keys_and_the_overrides(tmp_path: Path) -> None:
    saved_config = {"_target_": "trainer.models.MLP", "hidden_sizes": [64, 32], "dropout": 0.0}
    path = _save(tmp_path / "last.ckpt", _mlp([64, 32]), saved_config)
    this_run = {"_target_": "trainer.models.MLP", "hidden_sizes": [16], "dropout": 0.0}
    with pytest.raises(UserError) as info:
        check_checkpoint_fits(path, _mlp([16]), model_config=this_run)
    message = str(info.value)
    assert "\n" not in message and "does not fit this model" in message
    assert "(64, 4) vs (16, 4)" in message  # the first layer's weight, checkpoint vs model
    assert "the checkpoint has weights this model lacks" in message
    assert "same model settings" in message
    # The fix is printed as an override that pastes into a shell and composes in Hydra.
    printed = message.split("add ", 1)[1].rstrip(".")
    assert printed == "'model.hidden_sizes=[64,32]'"
    (override,) = shlex.split(printed)
    cfg = compose_config([override]).cfg
    assert OmegaConf.to_container(cfg.model.hidden_sizes) == [64, 32]
    assert check_checkpoint_fits(path, _mlp(list(cfg.model.hidden_sizes)))["epoch"] == 1


def test_fit_check_without_a_config_still_names_the_mismatch(tmp_path: Path) -> None:
    path = _save(tmp_path / "last.ckpt", _mlp([8, 8]), {"hidden_sizes": [8, 8]})
    with pytest.raises(
        UserError, match=r"this model has weights the checkpoint lacks|weights this model lacks"
    ):
        check_checkpoint_fits(path, _mlp([8]))


def test_fit_check_reports_a_non_checkpoint_file_first(tmp_path: Path) -> None:
    path = tmp_path / "notes.ckpt"
    path.write_text("hello\n")
    with pytest.raises(UserError, match="not a checkpoint: it is a text file starting with 'hello'"):
        check_checkpoint_fits(path, _mlp([8]))
