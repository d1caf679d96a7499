"""A plain value where a component's section belongs: one line naming it, not a crash inside the component."""

from __future__ import annotations

import pytest
from omegaconf import open_dict

from trainer.config import compose_config
from trainer.config.validate import validate_config
from trainer.errors import ConfigError


def test_a_source_given_a_value_names_the_data_option_it_may_mean() -> None:
    cfg = compose_config(["data.source=digits"]).cfg
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    assert str(caught.value) == (
        "data.source='digits' is a plain value, but data.source is a section that builds a TableSource "
        "(a _target_ and its settings); to use other data, choose the option: data=digits."
    )


def test_a_source_given_a_number_says_to_set_its_keys() -> None:
    with pytest.raises(
        ConfigError, match=r"^data.source=5 is a plain value.*set its keys \(data.source.<key>=...\)"
    ):
        validate_config(compose_config(["data.source=5"]).cfg)


@pytest.mark.parametrize("group", ["data", "model", "optimizer", "logger"])
def test_a_group_that_became_a_value_is_named(group: str) -> None:
    cfg = compose_config([]).cfg
    with open_dict(cfg):
        cfg[group] = "digits"
    with pytest.raises(ConfigError, match=rf"^{group}='digits' is a plain value where a section belongs"):
        validate_config(cfg)
