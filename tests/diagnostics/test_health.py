"""The health callback: a saturated network is flagged, a healthy one is not, and it is cheap."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from trainer.build import build_callbacks
from trainer.config import compose_config, validate_config
from trainer.engine import Trainer
from trainer.engine.callbacks import HealthMonitor
from trainer.engine.callbacks.health import activation_stats
from trainer.errors import ConfigError
from trainer.models import MLP
from trainer.tasks import MulticlassObjective

from .conftest import MemoryLogger, TensorDataModule, make_module


def _fit(
    model: nn.Module, data: TensorDataModule, logger: MemoryLogger, root: Path, **options: float
) -> HealthMonitor:
    health = HealthMonitor(**options)  # type: ignore[arg-type]
    trainer = Trainer(
        accelerator="cpu", max_epochs=3, callbacks=[health], logger=logger, default_root_dir=root
    )
    trainer.fit(make_module(model, MulticlassObjective(), lr=0.05), data)
    return health


def test_sigmoid_with_huge_init_is_flagged(
    classes_data: TensorDataModule,
    memory_logger: MemoryLogger,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    torch.manual_seed(0)
    model = MLP(in_features=8, out_features=3, hidden_sizes=[32] * 5, activation="sigmoid")
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0.0, 5.0)  # pre-activations of tens: sigmoid pinned at 0 or 1
    with caplog.at_level(logging.WARNING, logger="trainer"):
        health = _fit(model, classes_data, memory_logger, tmp_path)
    assert "saturated" in health.flags
    assert any("saturated" in r.getMessage() for r in caplog.records)
    assert health.history[0]["saturated/net.1"] > 0.5
    assert health.figure_path is not None and health.figure_path.is_file()
    assert health.figure_path in memory_logger.artifacts


def test_deep_sigmoid_with_small_init_shows_vanishing_gradients(
    classes_data: TensorDataModule, memory_logger: MemoryLogger, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    # PyTorch's default init is small: each sigmoid layer shrinks the gradient by about 4x or more.
    model = MLP(in_features=8, out_features=3, hidden_sizes=[32] * 5, activation="sigmoid", init="default")
    health = _fit(model, classes_data, memory_logger, tmp_path, figure=False)
    assert "vanishing" in health.flags
    first = health.history[0]
    assert first["grad_norm/net.0"] < 1e-3 * first["grad_norm/net.10"]


def test_relu_with_he_init_is_healthy(
    classes_data: TensorDataModule, memory_logger: MemoryLogger, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    model = MLP(in_features=8, out_features=3, hidden_sizes=[32, 32], activation="relu", init="he_normal")
    health = _fit(model, classes_data, memory_logger, tmp_path)
    assert health.findings == []
    assert len(health.history) == 3  # one sample per epoch
    names = memory_logger.names()
    for key in ("grad_norm/net.0", "weight_norm/net.0", "grad_norm/net.4", "dead/net.1", "mean/net.3"):
        assert f"health/{key}" in names
    assert sum(name.startswith("health/grad_norm/") for name in names) == 3  # the three Linear layers


def test_dead_relu_units_are_flagged(
    classes_data: TensorDataModule, memory_logger: MemoryLogger, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    model = MLP(in_features=8, out_features=3, hidden_sizes=[16], activation="relu")
    with torch.no_grad():
        model.net[0].bias.fill_(-50.0)  # every unit below zero for every input
    health = _fit(model, classes_data, memory_logger, tmp_path, figure=False)
    assert "dead" in health.flags
    assert health.history[-1]["dead/net.1"] == 1.0
    assert health.figure_path is None


def test_hooks_live_for_one_batch_per_sampled_epoch(classes_data: TensorDataModule, tmp_path: Path) -> None:
    model = MLP(in_features=8, out_features=3, hidden_sizes=[8], activation="tanh")
    health = HealthMonitor(every_n_epochs=2)
    counts: list[int] = []

    class CountHooks:  # runs after the health callback in the same hook
        def on_train_batch_end(self, trainer: Trainer, module: nn.Module, loss: torch.Tensor) -> None:
            counts.append(sum(len(m._forward_hooks) for m in model.modules()))

    trainer = Trainer(
        accelerator="cpu", max_epochs=4, callbacks=[health, CountHooks()], default_root_dir=tmp_path
    )
    trainer.fit(make_module(model, MulticlassObjective()), classes_data)
    assert counts and all(c == 0 for c in counts)
    assert [int(row["epoch"]) for row in health.history] == [1, 3]  # epochs 0 and 2 were sampled
    assert not any(p._backward_hooks for p in model.parameters())


def test_diagnose_is_a_pure_decision() -> None:
    health = HealthMonitor()
    assert health.diagnose({"grad_norm/a": 1.0, "grad_norm/b": 2.0, "saturated/s": 0.1}) == []
    kinds = [k for k, _ in health.diagnose({"grad_norm/a": 1e-6, "grad_norm/b": 1.0})]
    assert kinds == ["vanishing"]
    assert [k for k, _ in health.diagnose({"grad_norm/a": 5e3, "grad_norm/b": 1.0})] == ["exploding"]
    assert [k for k, _ in health.diagnose({"grad_norm/a": float("inf")})] == ["exploding"]
    assert [k for k, _ in health.diagnose({"dead/r": 0.9})] == ["dead"]


def test_activation_stats_per_kind() -> None:
    x = torch.tensor([[0.001, 0.5], [0.999, 0.5]])
    stats = activation_stats(nn.Sigmoid(), x, margin=0.01)
    assert float(stats["saturated"]) == pytest.approx(0.5)
    relu = activation_stats(nn.ReLU(), torch.tensor([[0.0, 1.0], [0.0, 0.0]]), margin=0.01)
    assert float(relu["dead"]) == pytest.approx(0.5)  # the first unit is zero for both rows
    assert "saturated" not in activation_stats(nn.SELU(), x, margin=0.01)


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="saturation_margin"):
        HealthMonitor(saturation_margin=0.7)
    with pytest.raises(ConfigError, match="every_n_epochs"):
        HealthMonitor(every_n_epochs=0)


def test_callbacks_diagnostics_option_adds_health_to_the_default_callbacks() -> None:
    cfg = validate_config(compose_config(["callbacks=diagnostics"]).cfg)
    callbacks = build_callbacks(cfg)
    default = build_callbacks(validate_config(compose_config([]).cfg))
    assert [type(c).__name__ for c in callbacks] == [*(type(c).__name__ for c in default), "HealthMonitor"]
    # One source for every default: the conf file says what the signature says.
    node = OmegaConf.to_container(cfg.callbacks.health)
    assert isinstance(node, dict)
    fresh = HealthMonitor()
    assert {k: v for k, v in node.items() if k != "_target_"} == {
        k: getattr(fresh, k) for k in node if k != "_target_"
    }
