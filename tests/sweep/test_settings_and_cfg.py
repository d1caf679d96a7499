"""The sweep's settings take every default from ``conf/sweep.yaml``; ``--cfg`` prints the
composed config of ``trainer sweep`` and ``trainer train -m`` and runs nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from trainer.config.compose import conf_dir
from trainer.errors import ConfigError
from trainer.sweep.command import multirun_command, sweep_command
from trainer.sweep.settings import SweepSettings, settings_from_config, sweep_defaults


def test_the_conf_file_is_the_one_source_of_every_default() -> None:
    fields = {f.name: f for f in dataclasses.fields(SweepSettings)}
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING for f in fields.values()
    )
    conf = yaml.safe_load((conf_dir() / "sweep.yaml").read_text())["sweep"]
    assert set(conf) == (set(fields) - {"metrics", "directions"}) | {"metric", "direction"}
    settings = settings_from_config({}, default_name="mlp")
    for key, value in conf.items():
        if key in ("metric", "direction", "study_name", "seed"):
            continue
        assert getattr(settings, key) == value, key
    assert settings.study_name == "mlp" and settings.metrics == ("val/loss",)
    assert sweep_defaults() == conf


def test_the_record_mode_is_asked_of_the_settings() -> None:
    assert settings_from_config({}, default_name="s").light_trials
    assert not settings_from_config({"trial_record": "full"}, default_name="s").light_trials
    assert settings_from_config({}, default_name="s").prunes
    assert not settings_from_config({"pruner": "none"}, default_name="s").prunes


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"n_trials": 0}, r"sweep.n_trials=0 must be a whole number of 1 or more"),
        ({"timeout": -1}, r"sweep.timeout=-1 must be a positive number"),
        ({"max_failures": 0}, r"sweep.max_failures=0 must be 1 or more"),
        ({"trial_record": "most"}, r"sweep.trial_record='most' is not a record level; use light or full"),
    ],
)
def test_setting_ranges_are_checked(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_config(section, default_name="s")


def test_refine_from_names_the_study_unless_study_name_does() -> None:
    assert settings_from_config({"refine_from": "mlp"}, default_name="mlp").study_name == "mlp-refine"
    named = settings_from_config({"refine_from": "mlp", "study_name": "fine"}, default_name="mlp")
    assert named.study_name == "fine"


def test_sweep_cfg_prints_the_composed_config_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "optuna.db"
    code = sweep_command(
        ["hparams_search=mlp", "sweep.n_trials=7", f"sweep.storage=sqlite:///{db}", "trainer.max_epochs=3"],
        print_config=True,
    )
    assert code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["sweep"]["n_trials"] == 7
    assert printed["trainer"]["max_epochs"] == 3
    assert "optimizer.lr" in printed["hparams_search"]["params"]
    assert "model" in printed and "data" in printed  # the `trainer train` part
    assert not db.exists()  # no study was made


def test_multirun_cfg_prints_the_grid_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "optuna.db"
    code = multirun_command(
        ["-m", "optimizer=adam,nadam", "optimizer.lr=0.001,0.01", f"sweep.storage=sqlite:///{db}"],
        print_config=True,
    )
    assert code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["sweep"]["sampler"] == "grid" and printed["sweep"]["n_trials"] == 4
    assert printed["sweep"]["trial_record"] == "full" and printed["sweep"]["pruner"] == "none"
    assert printed["hparams_search"]["params"]["optimizer"]["choices"] == ["adam", "nadam"]
    assert set(printed["hparams_search"]["params"]) == {"optimizer", "optimizer.lr"}
    assert not db.exists()
