"""``evaluate(ckpt_path, overrides)``: test a saved checkpoint with the config stored inside it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainer.build import build_datamodule, build_module, build_trainer
from trainer.config.validate import validate_config
from trainer.engine.checkpoint import load_checkpoint
from trainer.engine.seed import seed_everything
from trainer.errors import ConfigError, UserError

log = logging.getLogger(__name__)


def checkpoint_config(ckpt_path: str | Path, overrides: Sequence[str] = ()) -> DictConfig:
    """The resolved config saved in a checkpoint, with ``key=value`` overrides applied.

    Overrides change values only (for example ``data.source.path=new.csv`` or
    ``trainer.accelerator=cpu``); the model's shape must stay as it was trained.
    """
    state = load_checkpoint(ckpt_path)
    if not state["config"]:
        raise UserError(f"ckpt_path={str(ckpt_path)!r} holds no config; it cannot be evaluated alone.")
    cfg = OmegaConf.create(state["config"])
    OmegaConf.set_struct(cfg, True)
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or "override"
        raise ConfigError(
            f"{key} is not a key of the checkpoint's config ({str(exc).splitlines()[0]})."
        ) from None
    assert isinstance(cfg, DictConfig)
    return cfg


def evaluate(
    ckpt_path: str | Path, overrides: Sequence[str] = (), *, split: str = "test"
) -> dict[str, float]:
    """Metrics of ``split`` (``test`` or ``val``) for the weights in ``ckpt_path``."""
    cfg = validate_config(checkpoint_config(ckpt_path, overrides))
    # Scoring runs in this one process, whatever the saved run's trainer.strategy and devices.
    cfg.trainer.strategy, cfg.trainer.devices = "auto", 1
    seed_everything(cfg.seed)
    datamodule = build_datamodule(cfg)  # same seed and config: the same split and preprocessing
    module = build_module(cfg, datamodule)
    from trainer.tracking.base import NullLogger

    run_dir = Path(ckpt_path).resolve().parent
    trainer = build_trainer(cfg, run_dir=run_dir, callbacks=[], logger=NullLogger())
    if split == "val":
        return trainer.validate(module, datamodule, ckpt_path=ckpt_path)
    return trainer.test(module, datamodule, ckpt_path=ckpt_path)
