"""Every conf/optimizer entry instantiates (as a partial) into the right torch optimizer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from trainer.build import instantiate_component
from trainer.models import MLP

CONF = Path(__file__).resolve().parents[2] / "conf" / "optimizer"

# name -> (class, hyperparameters the param group must hold)
EXPECTED: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "sgd": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
    "momentum": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": False}),
    "nesterov": (torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {"lr": 0.01}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.001, "alpha": 0.9, "momentum": 0.0}),
    "adam": (torch.optim.Adam, {"lr": 0.001, "betas": (0.9, 0.999), "weight_decay": 0.0}),
    "nadam": (torch.optim.NAdam, {"lr": 0.002, "betas": (0.9, 0.999)}),
    "adamax": (torch.optim.Adamax, {"lr": 0.002, "betas": (0.9, 0.999)}),
    "adamw": (torch.optim.AdamW, {"lr": 0.001, "betas": (0.9, 0.999), "weight_decay": 0.01}),
}


def _model() -> MLP:
    torch.manual_seed(0)
    return MLP(in_features=4, out_features=2, hidden_sizes=[8])


def _build(name: str, model: torch.nn.Module) -> torch.optim.Optimizer:
    # Built the way runs build it: build.instantiate_component converts OmegaConf containers to plain
    # ones (NAdam/Adamax would otherwise keep a ListConfig of betas that weights_only cannot load).
    factory = instantiate_component(OmegaConf.load(CONF / f"{name}.yaml"), "optimizer")
    assert callable(factory) and not isinstance(factory, torch.optim.Optimizer)  # _partial_: true
    return factory(model.parameters())


def test_every_optimizer_config_is_covered() -> None:
    assert {p.stem for p in CONF.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_optimizer_config_builds_the_right_class_over_the_model(name: str) -> None:
    model = _model()
    optimizer = _build(name, model)
    cls, hyper = EXPECTED[name]
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    for key, value in hyper.items():
        held = tuple(group[key]) if key == "betas" else group[key]
        assert held == pytest.approx(value) if isinstance(value, float | tuple) else held == value, key
    assert [p for g in optimizer.param_groups for p in g["params"]] == list(model.parameters())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_optimizer_config_takes_a_step_that_lowers_the_loss(name: str) -> None:
    model = _model()
    optimizer = _build(name, model)
    x, y = torch.randn(32, 4), torch.randn(32, 2)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0]


def _has_omegaconf(value: Any) -> bool:
    if isinstance(value, DictConfig | ListConfig):
        return True
    if isinstance(value, dict):
        return any(_has_omegaconf(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_omegaconf(v) for v in value)
    return False


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_optimizer_state_survives_a_weights_only_round_trip(name: str) -> None:
    model = _model()
    optimizer = _build(name, model)
    model(torch.randn(8, 4)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    assert not _has_omegaconf(state["param_groups"])
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=True)
    assert restored["param_groups"][0]["lr"] == state["param_groups"][0]["lr"]
