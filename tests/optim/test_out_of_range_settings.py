"""Out-of-range optimizer and schedule settings stop when the config is built, in one line."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from trainer import cli
from trainer.build import instantiate_component
from trainer.config import compose_config, validate_config
from trainer.errors import ConfigError

OPTIMIZER_CASES = [
    (["optimizer.lr=-0.001"], "optimizer.lr=-0.001", "greater than 0"),
    (["optimizer.lr=0"], "optimizer.lr=0", "greater than 0"),
    (["optimizer=sgd", "optimizer.lr=-0.1"], "optimizer.lr=-0.1", "optimizer.lr=0.001"),
    (["optimizer=momentum", "optimizer.momentum=1.5"], "optimizer.momentum=1.5", "in [0, 1)"),
    (["optimizer=momentum", "optimizer.momentum=1.0"], "optimizer.momentum=1.0", "in [0, 1)"),
    (["optimizer=rmsprop", "optimizer.momentum=-0.5"], "optimizer.momentum=-0.5", "in [0, 1)"),
    (["optimizer.betas=[0.9,1.0]"], "optimizer.betas=[0.9, 1.0]", "optimizer.betas=[0.9,0.999]"),
    (["optimizer=nadam", "optimizer.betas=[-0.1,0.999]"], "optimizer.betas=[-0.1, 0.999]", "each beta"),
    (["optimizer.betas=[0.9]"], "optimizer.betas=[0.9]", "must be a pair"),
    (["optimizer.eps=0"], "optimizer.eps=0", "greater than 0"),
    (["optimizer=adamw", "optimizer.eps=-1e-8"], "optimizer.eps=-1e-08", "greater than 0"),
    (["optimizer.weight_decay=-0.01"], "optimizer.weight_decay=-0.01", "0 or more"),
    (["optimizer=rmsprop", "optimizer.alpha=1.0"], "optimizer.alpha=1.0", "in [0, 1)"),
    (["optimizer=adagrad", "optimizer.lr_decay=-1"], "optimizer.lr_decay=-1", "0 or more"),
    (
        ["optimizer=adagrad", "optimizer.initial_accumulator_value=-1"],
        "initial_accumulator_value=-1",
        "0 or more",
    ),
    (
        ["optimizer=nesterov", "optimizer.momentum=0"],
        "optimizer.nesterov=true needs momentum",
        "nesterov=false",
    ),
]

SCHEDULE_CASES = [
    (["scheduler=cosine", "scheduler.eta_min=-0.001"], "scheduler.eta_min=-0.001", "0 or more"),
    (["scheduler=power", "scheduler.c=-1"], "scheduler.c=-1", "0 or more"),
    (["scheduler=power", "scheduler.s=-5"], "scheduler.s=-5", "greater than 0"),
    (["scheduler=exponential", "scheduler.s=0"], "scheduler.s=0", "greater than 0"),
    (["scheduler=piecewise", "scheduler.gamma=-0.1"], "scheduler.gamma=-0.1", "greater than 0"),
    (["scheduler=piecewise", "scheduler.milestones=[-1,5]"], "scheduler.milestones=[-1, 5]", "0 or more"),
    (["scheduler=performance", "scheduler.patience=-1"], "scheduler.patience=-1", "0 or more"),
    (["scheduler=performance", "scheduler.min_lr=-0.1"], "scheduler.min_lr=-0.1", "0 or more"),
    (["scheduler=performance", "scheduler.factor=1.5"], "scheduler.factor=1.5", "between 0 and 1"),
    (["scheduler=onecycle", "scheduler.max_lr=-0.01"], "scheduler.max_lr=-0.01", "greater than 0"),
]


def _build_error(overrides: list[str], group: str) -> str:
    """The one-line ConfigError that building ``group`` from the composed config raises."""
    cfg = validate_config(compose_config(overrides).cfg)  # the config itself is well-formed
    with pytest.raises(ConfigError) as info:
        instantiate_component(cfg[group], group)
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize(("overrides", "named", "fix"), OPTIMIZER_CASES, ids=lambda v: str(v))
def test_out_of_range_optimizer_setting_stops_at_build(overrides: list[str], named: str, fix: str) -> None:
    message = _build_error(overrides, "optimizer")
    assert named in message and fix in message


@pytest.mark.parametrize(("overrides", "named", "fix"), SCHEDULE_CASES, ids=lambda v: str(v))
def test_out_of_range_schedule_setting_stops_at_build(overrides: list[str], named: str, fix: str) -> None:
    message = _build_error(overrides, "scheduler")
    assert named in message and fix in message


@pytest.mark.parametrize(
    "option", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "adamax", "adamw"]
)
def test_every_shipped_optimizer_config_passes_its_own_checks(option: str) -> None:
    cfg = validate_config(compose_config([f"optimizer={option}"]).cfg)
    assert callable(instantiate_component(cfg.optimizer, "optimizer"))


@pytest.mark.parametrize("option", ["piecewise", "exponential", "power", "performance", "onecycle", "cosine"])
def test_every_shipped_schedule_config_passes_its_own_checks(option: str) -> None:
    cfg = validate_config(compose_config([f"scheduler={option}"]).cfg)
    assert callable(instantiate_component(cfg.scheduler, "scheduler"))


def test_the_config_checks_still_read_torchs_signature() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("optimizer.lrr is not an option of trainer.optim.optimizers.Adam")
    ):
        validate_config(compose_config(["+optimizer.lrr=0.1"]).cfg)
    with pytest.raises(ConfigError, match=re.escape("optimizer.amsgrad='yes' has the wrong type")):
        validate_config(compose_config(["optimizer.amsgrad=yes"]).cfg)
    with pytest.raises(ConfigError, match=re.escape("scheduler.eta_mn is not an option")):
        validate_config(compose_config(["scheduler=cosine", "+scheduler.eta_mn=0.1"]).cfg)


def test_trainer_train_with_a_negative_lr_prints_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        [
            "train",
            "optimizer.lr=-0.001",
            "data=wine",
            "logger=none",
            "trainer.max_epochs=1",
            f"paths.runs_dir={tmp_path}/runs",
        ]
    )
    logging.getLogger("trainer").handlers.clear()  # the CLI's console handler holds the captured stream
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    errors = [line for line in err if line.startswith("error:")]
    assert errors == [errors[0]] and "optimizer.lr=-0.001 is out of range" in errors[0]
    assert not any("Traceback" in line for line in err)
