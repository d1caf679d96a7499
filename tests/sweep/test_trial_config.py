"""Trial configs composed once per set of group choices equal what ``trainer train`` composes."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.sweep.trial_config import TrialConfigs

BASE = ["data=digits", "trainer.max_epochs=3"]


def _configs(
    *, keep_checkpoints: bool = True, metric: str = "val/loss", direction: str = "minimize"
) -> TrialConfigs:
    return TrialConfigs(BASE, metric=metric, direction=direction, keep_checkpoints=keep_checkpoints)


@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer=adam", "optimizer.lr=0.000123456789012", "model.hidden_sizes=[64,32]", "run_name=t1"],
        [
            "optimizer=momentum",
            "optimizer.momentum=0.9",
            "model.dropout=0.30000000000000004",
            "data.batch_size=64",
        ],
        ["optimizer=adam", "model.activation=tanh", "run_name='a b=c'"],
        ["+trainer.extra_key=1", "optimizer.lr=0.01"],
        ["~callbacks.early_stopping", "optimizer.lr=0.02"],
    ],
)
def test_cached_compose_equals_a_fresh_one(overrides: list[str]) -> None:
    configs = _configs()
    for _ in range(2):  # the second compose comes from the cache
        ours = configs.compose(overrides)
        fresh = compose_config([*BASE, *overrides])
        assert OmegaConf.to_yaml(ours.cfg) == OmegaConf.to_yaml(fresh.cfg)
        assert ours.overrides == fresh.overrides
        assert ours.choices == fresh.choices
        assert ours.hydra["overrides"] == fresh.hydra["overrides"]


def test_a_trial_cannot_change_the_cached_config_of_the_next() -> None:
    configs = _configs()
    first = configs.compose(["optimizer.lr=0.5"])
    first.cfg.model.dropout = 0.4
    assert configs.compose(["optimizer.lr=0.1"]).cfg.model.dropout == compose_config(BASE).cfg.model.dropout


def test_a_bad_value_gets_trainer_trains_message() -> None:
    with pytest.raises(ConfigError) as ours:
        _configs().compose(["optimizer.lrr=0.1"])
    with pytest.raises(ConfigError) as fresh:
        compose_config([*BASE, "optimizer.lrr=0.1"])
    assert str(ours.value) == str(fresh.value)


def test_the_monitor_follows_the_study_metric_unless_the_user_named_one() -> None:
    configs = _configs(metric="val/f1", direction="maximize")
    overrides = configs.with_monitor(["optimizer=adam"])
    assert "callbacks.early_stopping.monitor=val/f1" in overrides
    assert "callbacks.model_checkpoint.monitor=val/f1" in overrides
    cfg = configs.compose(overrides).cfg
    assert (cfg.callbacks.early_stopping.monitor, cfg.callbacks.model_checkpoint.monitor) == (
        "val/f1",
        "val/f1",
    )
    # val/f1 rises: "auto" mode already says so, no override for it.
    assert not [o for o in overrides if ".mode=" in o]
    # A direction the metric's name does not imply is spelled out.
    against = _configs(metric="val/f1", direction="minimize").with_monitor([])
    assert "callbacks.early_stopping.mode=min" in against
    # The user's own monitor stays.
    mine = _configs().with_monitor(["callbacks.early_stopping.monitor=val/accuracy"])
    assert "callbacks.early_stopping.monitor=val/loss" not in mine
    assert "callbacks.model_checkpoint.monitor=val/loss" in mine
    # No callbacks, nothing to point.
    assert _configs().with_monitor(["callbacks=none"]) == ["callbacks=none"]


def test_a_light_trial_keeps_no_checkpoint_callback() -> None:
    assert _configs(keep_checkpoints=False).compose([]).cfg.callbacks.model_checkpoint is None
    assert _configs(keep_checkpoints=True).compose([]).cfg.callbacks.model_checkpoint is not None
