"""Search-space parsing, sampling and override formatting (no training)."""

from __future__ import annotations

import optuna
import pytest

from trainer.errors import ConfigError
from trainer.sweep.space import format_value, parse_space

SPACE = {
    "optimizer": {"type": "group", "choices": ["adam", "momentum"]},
    "optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "optimizer.momentum": {"type": "float", "low": 0.8, "high": 0.99, "when": {"optimizer": ["momentum"]}},
    "model.hidden_sizes": {"type": "categorical", "choices": [[32], [64, 32]]},
    "data.batch_size": {"type": "int", "low": 32, "high": 256, "step": 32},
}


def test_conditional_parameter_only_with_its_choice() -> None:
    space = parse_space(SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        values = space.sample(trial)
        assert ("optimizer.momentum" in values) == (values["optimizer"] == "momentum")
        assert values["model.hidden_sizes"] in ([32], [64, 32])
        assert 1e-4 <= values["optimizer.lr"] <= 1e-1
        assert values["data.batch_size"] % 32 == 0
        overrides = space.overrides(values)
        assert overrides[0].startswith("optimizer=")  # groups first
        seen.add(values["optimizer"])
        study.tell(trial, 0.0)
    assert seen == {"adam", "momentum"}


def test_override_formatting() -> None:
    assert format_value([64, 32]) == "[64,32]"
    assert format_value("[64,32]") == "[64,32]"
    assert format_value(0.30000000000000004) == "0.3"
    assert format_value(None) == "null"
    assert format_value("a b") == "'a b'"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"optimizer.lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}},
            "log-scale range needs low > 0",
        ),
        ({"optimizer.lr": {"type": "float", "low": 1.0, "high": 0.1}}, "must be below high"),
        ({"optimizer.lr": {"type": "floaty", "low": 1.0, "high": 2.0}}, "is not a parameter type"),
        ({"optimizer.lr": {"type": "float", "low": 1.0, "high": 2.0, "lg": True}}, "lg is not a field"),
        ({"data.batch_size": {"type": "int", "low": 1.5, "high": 8}}, "whole numbers"),
        ({"x": {"type": "float", "low": 0, "high": 1, "when": {"y": [1]}}}, "not a parameter listed before"),
        ({}, "is empty"),
    ],
)
def test_bad_space_messages(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_space(params)


def test_a_typo_in_a_multirun_override_is_named_as_the_user_wrote_it() -> None:
    from trainer.sweep.checks import check_space
    from trainer.sweep.multirun import split_multirun

    space, _ = split_multirun(["optimizer=adam,sgdd", "optimizer.lr=0.1,0.2"])
    assert space is not None
    with pytest.raises(ConfigError) as caught:
        check_space(space, base_overrides=[])
    assert str(caught.value).startswith("optimizer=adam,sgdd: 'sgdd' is not an option of conf/optimizer/")
    assert "hparams_search" not in str(caught.value)
    space, _ = split_multirun(["optimizer.lrr=0.1,0.2"])
    assert space is not None
    with pytest.raises(ConfigError, match=r"^optimizer.lrr=0.1,0.2: optimizer.lrr=") as caught:
        check_space(space, base_overrides=[])


def test_a_multirun_override_hydra_cannot_parse_gets_the_way_to_write_it() -> None:
    from trainer.sweep.multirun import split_multirun

    with pytest.raises(ConfigError) as caught:
        split_multirun(["data.source.sep=;", "optimizer.lr=0.1,0.2"])
    assert "double quotes" in str(caught.value)
