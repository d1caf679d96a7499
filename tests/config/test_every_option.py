"""Every option of every group in conf/ composes, validates and builds into live objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from trainer.build import build_callbacks, build_datamodule, build_logger, build_module, build_trainer
from trainer.config import compose_config, conf_dir, group_options, validate_config
from trainer.data import TabularDataModule
from trainer.errors import ConfigError
from trainer.optim.schedule import TrainingPlan

from .conftest import data_overrides

GROUPS = group_options()
# Groups that other root configs compose (sweep.yaml's search spaces), not train.yaml.
NOT_TRAIN_GROUPS = {"hparams_search"}
ALL_OPTIONS = [
    (group, option)
    for group, options in GROUPS.items()
    if group not in NOT_TRAIN_GROUPS
    for option in options
]
# The groups train.yaml picks from; each must exist on disk with at least one option.
DEFAULT_GROUPS = {"data", "model", "optimizer", "scheduler", "trainer", "callbacks", "logger", "paths"}


def test_group_options_lists_the_folders_of_conf() -> None:
    on_disk = {p.name for p in conf_dir().iterdir() if p.is_dir() and any(p.glob("*.yaml"))}
    assert set(GROUPS) == on_disk
    assert DEFAULT_GROUPS | {"experiment"} <= set(GROUPS)
    for group, options in GROUPS.items():
        assert options == sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))
    assert len(ALL_OPTIONS) >= 40  # the README's table; a lost folder would shrink this


_DATAMODULES: dict[str, TabularDataModule] = {}


def _datamodule(cfg: DictConfig) -> TabularDataModule:
    """build_datamodule, once per distinct data config: most options share breast_cancer's."""
    key = OmegaConf.to_yaml(cfg.data, resolve=True)
    if key not in _DATAMODULES:
        _DATAMODULES[key] = build_datamodule(cfg)
    return _DATAMODULES[key]


MODEL_DATA = {
    "cnn": ["data=digits_images"],
    "gru": ["data=temperature_synthetic"],
    "lstm": ["data=temperature_synthetic"],
}


def _overrides(group: str, option: str, csv_path: Path, run_dir: Path) -> list[str]:
    overrides = [f"{group}={option}", f"paths.run_dir={run_dir}"]
    if group in ("data", "experiment"):
        overrides += data_overrides(option, csv_path)
    if group == "model" and option == "autoencoder":
        overrides.append("objective.name=reconstruction")  # as conf/model/autoencoder.yaml says
    if group == "model":  # models of images and series need data of their kind
        overrides += MODEL_DATA.get(option, [])
    return overrides


@pytest.mark.parametrize(("group", "option"), ALL_OPTIONS, ids=[f"{g}={o}" for g, o in ALL_OPTIONS])
def test_every_option_composes_validates_and_builds(
    group: str, option: str, tiny_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a logger that writes relative to the working directory writes here
    run_dir = tmp_path / "run"
    composed = compose_config(_overrides(group, option, tiny_csv, run_dir))
    expected_choice = "default" if group == "paths" else option
    assert composed.choices[group] == expected_choice
    cfg = validate_config(composed.cfg)
    assert cfg.paths.run_dir == str(run_dir)

    datamodule = _datamodule(cfg)
    assert datamodule.num_features > 0
    assert len(datamodule.tensors("train")[0]) > len(datamodule.tensors("test")[0]) > 0
    module = build_module(cfg, datamodule)
    assert type(module.model).__name__ == cfg.model._target_.rsplit(".", 1)[-1]
    with torch.no_grad():
        out = module.model(datamodule.tensors("val")[0][:4])
    assert out.shape[0] == 4 and torch.isfinite(out).all()
    optimizer, _ = module.configure_optimizers(TrainingPlan(max_epochs=2, steps_per_epoch=3))
    assert type(optimizer).__name__ == cfg.optimizer._target_.rsplit(".", 1)[-1]

    callbacks = build_callbacks(cfg)
    configured = [name for name, node in (cfg.callbacks or {}).items() if node]
    assert [type(cb).__name__ for cb in callbacks] == [
        cfg.callbacks[name]._target_.rsplit(".", 1)[-1] for name in configured
    ]
    logger = build_logger(cfg)
    assert type(logger).__name__ == cfg.logger._target_.rsplit(".", 1)[-1]

    if cfg.trainer.accelerator == "cuda" and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            build_trainer(cfg, run_dir=run_dir, callbacks=callbacks, logger=logger)
        return
    trainer = build_trainer(cfg, run_dir=run_dir, callbacks=callbacks, logger=logger)
    assert trainer.max_epochs == (1 if cfg.trainer.fast_dev_run else cfg.trainer.max_epochs)
    assert trainer.callbacks == callbacks
    assert trainer.config is not None
    assert trainer.config["paths"]["run_dir"] == str(run_dir)
    assert OmegaConf.missing_keys(cfg) == set()


def test_autoencoder_with_a_classification_objective_names_the_fix(tmp_path: Path) -> None:
    cfg = validate_config(compose_config(["model=autoencoder"]).cfg)
    datamodule = build_datamodule(cfg)
    with pytest.raises(ConfigError, match=r"objective\.name=reconstruction"):
        build_module(cfg, datamodule)
