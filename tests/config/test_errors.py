"""Bad input stops with one ConfigError whose single line names the value and the fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from trainer.config import compose_config, conf_dir, group_options, validate_config
from trainer.errors import ConfigError, UserError


def _error(overrides: list[str]) -> str:
    """The message of the ConfigError that composing and validating ``overrides`` raises."""
    with pytest.raises(ConfigError) as info:
        validate_config(compose_config(overrides).cfg)
    message = str(info.value)
    assert "\n" not in message, f"the message should be one line: {message!r}"
    assert "Traceback" not in message and "full_key" not in message
    return message


def test_config_error_is_a_user_error() -> None:
    assert issubclass(ConfigError, UserError)  # the CLI prints UserErrors without a traceback


def test_typo_in_a_key_suggests_the_real_key() -> None:
    message = _error(["trainer.max_epoch=3"])
    assert "trainer.max_epoch" in message
    assert "Did you mean 'max_epochs'?" in message
    assert "accelerator" in message  # the valid keys of the trainer node are listed


def test_typo_in_a_nested_key_lists_that_nodes_keys() -> None:
    message = _error(["data.source.nam=wine"])
    assert "data.source.nam" in message and "'data.source'" in message
    assert "Did you mean 'name'?" in message


def test_typo_in_the_middle_of_a_key_is_named_where_it_happens() -> None:
    message = _error(["callbacks.early_stoping.patience=3"])
    assert message.startswith("callbacks.early_stoping is not a key of 'callbacks'")
    assert "Did you mean 'early_stopping'?" in message
    message = _error(["callbacks=none", "callbacks.early_stopping.patience=3"])
    assert message.startswith("callbacks.early_stopping is not a key of 'callbacks'")
    assert "Valid keys in 'callbacks': progress." in message


def test_a_typo_beside_another_broken_override_is_still_named() -> None:
    """Listing the valid keys composes the other overrides again; when they are broken too, the
    message names the typo without the listing (and no other error escapes)."""
    message = _error(["trainer.max_epoch=3", "data.source.nam=wine"])
    assert message == "trainer.max_epoch is not a key of 'trainer'."


def test_setting_a_key_of_an_empty_group_says_to_pick_an_option() -> None:
    message = _error(["scheduler.max_lr=0.1"])  # the default scheduler is none
    assert "'scheduler' is empty" in message and "scheduler=<option>" in message
    assert "onecycle" in message


def test_typo_in_a_group_option_lists_the_options() -> None:
    message = _error(["optimizer=adamm"])
    assert "optimizer=adamm" in message
    for option in group_options()["optimizer"]:
        assert option in message
    assert "Did you mean 'adam'?" in message


def test_typo_in_an_experiment_name_lists_the_presets() -> None:
    message = _error(["experiment=digits"])
    assert "digits_mlp" in message and "breast_cancer_mlp" in message


def test_unknown_key_in_a_target_node_names_the_node_and_the_key() -> None:
    message = _error(["optimizer.lrr=0.1"])
    assert "optimizer.lrr" in message
    assert "Did you mean 'lr'?" in message


def test_added_key_a_target_does_not_take_is_caught_by_its_signature() -> None:
    # '+' gets past Hydra's struct check; the target's signature still rejects it.
    message = _error(["+optimizer.lrr=0.1"])
    assert "optimizer.lrr is not an option of trainer.optim.optimizers.Adam" in message
    assert "Did you mean 'lr'?" in message


def test_misspelt_target_class_path_is_named() -> None:
    message = _error(["optimizer._target_=torch.optim.Adamm"])
    assert "torch.optim.Adamm" in message and "cannot be imported" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [("trainer.max_epochs=abc", "Integer"), ("model.hidden_sizes=abc", "Sequence")],
)
def test_wrong_type_from_the_command_line(override: str, expected: str) -> None:
    message = _error([override])
    assert message.startswith(override.split("=")[0])
    assert expected in message and "Fix the value" in message


@pytest.fixture(scope="module")
def default_cfg() -> DictConfig:
    """The default config, composed once; each type check below changes one value of a copy."""
    return compose_config([]).cfg


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("trainer.max_time", "abc", "Float"),
        ("trainer.deterministic", "maybe", "bool"),
        ("seed", "abc", "Integer"),
        ("model.hidden_sizes", ["a", "b"], "Sequence"),
        ("model.dropout", "abc", "float"),
        ("data.batch_size", "abc", "int"),
        ("optimizer.lr", "abc", "float"),
        ("optimizer.betas", "abc", "tuple"),
        ("callbacks.early_stopping.patience", "abc", "int"),
        ("trainer.fast_dev_run", "abc", "bool | int"),
        ("trainer.fast_dev_run", 1.5, "bool | int"),
        ("trainer.limit_train_batches", "abc", "int | float"),
        ("trainer.limit_val_batches", [1], "int | float"),
    ],
)
def test_wrong_type_names_the_key_and_the_expected_type(
    default_cfg: DictConfig, key: str, value: object, expected: str
) -> None:
    cfg = copy.deepcopy(default_cfg)  # the module-scoped original stays as composed
    OmegaConf.update(cfg, key, value)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert message.startswith(key) and "\n" not in message
    assert expected in message
    assert "Fix the value" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trainer.fast_dev_run", 2),
        ("trainer.fast_dev_run", True),
        ("trainer.limit_train_batches", 3),
        ("trainer.limit_val_batches", 0.5),
        ("optimizer.lr", 1),
    ],
)
def test_right_types_of_union_fields_pass(default_cfg: DictConfig, key: str, value: object) -> None:
    cfg = copy.deepcopy(default_cfg)  # the module-scoped original stays as composed
    OmegaConf.update(cfg, key, value)
    assert OmegaConf.select(validate_config(cfg), key) == value


def test_unknown_root_key_lists_the_root_keys() -> None:
    message = _error(["+foo=1"])
    assert message.startswith("foo is not a key of the root config")
    for key in ("data", "model", "optimizer", "trainer", "seed"):
        assert key in message


def test_unknown_root_key_without_plus_is_named_too() -> None:
    message = _error(["foo=1"])
    assert "foo is not a key of the root config" in message


def test_missing_value_names_the_key_to_pass(tmp_path: Path) -> None:
    message = _error(["data=csv"])
    assert "data.source.path has no value" in message
    assert "data.source.path=..." in message
    message = _error(["data=csv", f"data.source.path={tmp_path / 'x.csv'}"])
    assert "data.target has no value" in message


@pytest.mark.parametrize("group", ["data", "model", "optimizer"])
def test_removing_a_required_group_is_a_config_error(group: str) -> None:
    message = _error([f"~{group}"])
    assert f"{group}=<option>" in message


def test_malformed_override_explains_the_syntax() -> None:
    message = _error(["trainer.max_epochs=[1"])
    assert "Could not parse" in message and "key=value" in message


def test_composition_leaves_no_global_hydra_state() -> None:
    assert not GlobalHydra.instance().is_initialized()
    compose_config(["model=linear"])
    assert not GlobalHydra.instance().is_initialized()
    with pytest.raises(ConfigError):
        compose_config(["trainer.max_epoch=3"])  # the error path composes twice
    assert not GlobalHydra.instance().is_initialized()
    with pytest.raises(ConfigError):
        compose_config(["optimizer=adamm"])
    assert not GlobalHydra.instance().is_initialized()


def test_many_compositions_in_one_process_are_independent() -> None:
    first = compose_config(["optimizer=sgd", "optimizer.lr=0.5"])
    second = compose_config([])
    assert first.cfg.optimizer.lr == 0.5 and first.choices["optimizer"] == "sgd"
    assert second.choices["optimizer"] == "adam" and second.cfg.optimizer.lr == 0.001
    assert "hydra" not in second.cfg


def test_conf_dir_without_train_yaml_says_how_to_point_at_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINER_CONF_DIR", str(tmp_path))
    assert conf_dir() == tmp_path.resolve()
    with pytest.raises(ConfigError, match="TRAINER_CONF_DIR") as info:
        compose_config([])
    assert f"No train.yaml in {tmp_path.resolve()}" in str(info.value)
