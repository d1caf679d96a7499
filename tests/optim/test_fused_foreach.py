"""torch's implementation switches pass through the optimizer configs: ``fused`` and ``foreach``."""

from __future__ import annotations

import re

import pytest
import torch

from trainer.build import instantiate_component
from trainer.config import compose_config, validate_config
from trainer.errors import ConfigError
from trainer.models import MLP

FUSED = ["sgd", "momentum", "nesterov", "adagrad", "adam", "adamw"]  # torch 2.13 has a fused kernel
FOREACH_ONLY = ["rmsprop", "nadam", "adamax"]


def build(overrides: list[str]) -> torch.optim.Optimizer:
    cfg = validate_config(compose_config(overrides).cfg)
    factory = instantiate_component(cfg.optimizer, "optimizer")
    torch.manual_seed(0)
    return factory(MLP(in_features=4, out_features=1, hidden_sizes=[8]).parameters())


@pytest.mark.parametrize("option", FUSED)
def test_the_shipped_configs_take_the_fused_kernel_where_torch_has_one(option: str) -> None:
    group = build([f"optimizer={option}"]).param_groups[0]
    assert group["fused"] is True and group["foreach"] is None


@pytest.mark.parametrize("option", FOREACH_ONLY)
def test_without_a_fused_kernel_the_choice_is_torchs(option: str) -> None:
    group = build([f"optimizer={option}"]).param_groups[0]
    assert group["foreach"] is None and group.get("fused") is None


@pytest.mark.parametrize(
    "overrides", [["optimizer.fused=false"], ["optimizer.foreach=false"], ["optimizer.foreach=true"]]
)
def test_a_users_choice_of_implementation_is_kept(overrides: list[str]) -> None:
    group = build(["optimizer=adam", *overrides]).param_groups[0]
    key, value = overrides[0].removeprefix("optimizer.").split("=")
    assert group[key] is (value == "true")
    assert not group["fused"] or key == "fused"


def test_a_generator_of_parameters_is_used_once_and_fully() -> None:
    cfg = validate_config(compose_config(["optimizer=adam"]).cfg)
    factory = instantiate_component(cfg.optimizer, "optimizer")
    model = MLP(in_features=4, out_features=1, hidden_sizes=[8])
    optimizer = factory(p for p in model.parameters())  # a generator, as module.parameters() is
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    groups = factory(
        [{"params": iter([*model.parameters()][:2])}, {"params": iter([*model.parameters()][2:])}]
    )
    assert [len(g["params"]) for g in groups.param_groups] == [2, len(list(model.parameters())) - 2]


@pytest.mark.parametrize("option", FUSED)
def test_fused_passes_through_and_trains_like_the_default(option: str) -> None:
    losses = {}
    for fused in (False, True):
        torch.manual_seed(0)
        model = MLP(in_features=4, out_features=1, hidden_sizes=[8])
        cfg = validate_config(compose_config([f"optimizer={option}", f"optimizer.fused={fused}"]).cfg)
        optimizer = instantiate_component(cfg.optimizer, "optimizer")(model.parameters())
        assert optimizer.param_groups[0]["fused"] is fused
        x, y = torch.randn(64, 4, generator=torch.Generator().manual_seed(1)), torch.zeros(64, 1)
        for _ in range(5):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
        losses[fused] = loss.item()
    assert losses[True] == pytest.approx(losses[False], rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("option", [*FOREACH_ONLY, "adam"])
def test_foreach_passes_through(option: str) -> None:
    assert build([f"optimizer={option}", "optimizer.foreach=false"]).param_groups[0]["foreach"] is False


def test_fused_and_foreach_together_stop_at_build_in_one_line() -> None:
    cfg = validate_config(compose_config(["optimizer.fused=true", "optimizer.foreach=true"]).cfg)
    with pytest.raises(ConfigError, match=re.escape("optimizer.foreach=null")) as info:
        instantiate_component(cfg.optimizer, "optimizer")
    assert "\n" not in str(info.value)


def test_fused_where_torch_has_no_fused_kernel_is_an_unknown_option() -> None:
    with pytest.raises(ConfigError, match=re.escape("optimizer.fused is not an option")):
        validate_config(compose_config(["optimizer=rmsprop", "+optimizer.fused=true"]).cfg)


@pytest.mark.parametrize("key", ["fused", "foreach"])
def test_a_non_boolean_switch_stops_at_build_with_the_key(key: str) -> None:
    cfg = validate_config(compose_config([f"optimizer.{key}=yes"]).cfg)
    with pytest.raises(ConfigError, match=re.escape(f"optimizer.{key}='yes' must be true, false or null")):
        instantiate_component(cfg.optimizer, "optimizer")
