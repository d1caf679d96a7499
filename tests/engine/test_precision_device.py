"""Precision, device resolution, seeding and the deterministic switch (CPU-only checks)."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from trainer.engine import Trainer
from trainer.engine.device import move_to_device, resolve_device
from trainer.engine.precision import autocast_factory, make_grad_scaler, normalize_precision
from trainer.engine.seed import deterministic_algorithms, seed_everything
from trainer.errors import ConfigError

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (32, "32"),
        ("32", "32"),
        ("32-true", "32"),
        ("bf16", "bf16-mixed"),
        ("BF16-Mixed", "bf16-mixed"),
        (16, "16-mixed"),
        ("16", "16-mixed"),
        ("16-mixed", "16-mixed"),
    ],
)
def test_normalize_precision_aliases(given, expected):
    assert normalize_precision(given) == expected


@pytest.mark.parametrize("bad", [64, "fp8", "16-true", ""])
def test_unknown_precision_is_a_config_error_listing_choices(bad):
    with pytest.raises(ConfigError, match=r"is not supported; choose one of 32, bf16-mixed, 16-mixed"):
        normalize_precision(bad)


def test_bf16_mixed_trains_on_cpu_under_autocast(datamodule, module, tmp_path):
    mod = module("binary", optimizer_factory=lambda p: torch.optim.Adam(p, lr=0.03))
    seen: list[torch.dtype] = []
    first_linear = mod.model.net[0]
    handle = first_linear.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    trainer = Trainer(accelerator="cpu", precision="bf16-mixed", max_epochs=4, default_root_dir=tmp_path)
    trainer.fit(mod, datamodule("binary"))
    handle.remove()

    assert set(seen) == {torch.bfloat16}  # training and validation forwards ran in bf16
    assert not trainer.grad_scaler.is_enabled()  # bf16 needs no loss scaling
    assert all(p.dtype == torch.float32 for p in mod.parameters())  # master weights stay fp32
    losses = [row["train/loss"] for row in trainer.history]
    assert losses[-1] < losses[0]
    assert trainer.callback_metrics["val/accuracy"] > 0.8
    predictions = trainer.predict(mod, datamodule("binary"))
    assert predictions.dtype == torch.float32


def test_32_precision_does_not_autocast(datamodule, module, tmp_path):
    mod = module("binary")
    seen: list[torch.dtype] = []
    mod.model.net[0].register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    Trainer(accelerator="cpu", precision=32, max_epochs=1, default_root_dir=tmp_path).fit(
        mod, datamodule("binary")
    )
    assert set(seen) == {torch.float32}


@pytest.mark.parametrize("precision", ["16-mixed", 16, "16"])
def test_fp16_on_cpu_is_a_config_error_that_names_the_fix(precision):
    with pytest.raises(ConfigError) as info:
        Trainer(accelerator="cpu", precision=precision)
    message = str(info.value)
    assert "trainer.precision=16-mixed needs a CUDA or MPS device" in message
    assert "trainer.precision=bf16-mixed" in message


def test_autocast_factory_and_grad_scaler_per_precision():
    cpu = torch.device("cpu")
    assert autocast_factory("32", cpu)() is not None
    with autocast_factory("bf16-mixed", cpu)():
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")
    assert not make_grad_scaler("32", cpu).is_enabled()
    assert not make_grad_scaler("bf16-mixed", cpu).is_enabled()


@no_cuda
def test_auto_resolves_to_cpu_here():
    if torch.backends.mps.is_available():
        pytest.skip("MPS present: auto resolves to mps")
    assert resolve_device("auto") == torch.device("cpu")
    assert Trainer(accelerator="auto").device == torch.device("cpu")


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:1", "CUDA"])
def test_cuda_without_cuda_is_a_config_error(name):
    with pytest.raises(
        ConfigError, match=r"CUDA is not available on this machine; use trainer.accelerator=auto"
    ):
        resolve_device(name)


def test_cpu_and_unknown_accelerators():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"trainer.accelerator='tpu' is not known; choose one of auto, cpu"):
        resolve_device("tpu")


def test_mps_without_mps_is_a_config_error():
    if torch.backends.mps.is_available():
        pytest.skip("MPS present")
    with pytest.raises(ConfigError, match="MPS is not available"):
        resolve_device("mps")


def test_move_to_device_handles_nested_batches():
    x, y = torch.ones(2), torch.zeros(2)
    moved = move_to_device({"a": (x, [y]), "b": 3}, torch.device("cpu"))
    assert isinstance(moved["a"], tuple) and isinstance(moved["a"][1], list)
    assert moved["a"][0] is x  # already there: no copy
    assert moved["b"] == 3


# ---------------------------------------------------------------- seeding and determinism


def test_seed_everything_repeats_python_numpy_and_torch():
    seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(123)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2])
    seed_everything(124)
    assert not torch.equal(torch.rand(3), second[2])


def test_same_seed_same_run(datamodule, module, snapshot, tmp_path):
    results = []
    for _ in range(2):
        mod = module("binary", dropout=0.3, seed=11)
        Trainer(accelerator="cpu", max_epochs=2, default_root_dir=tmp_path).fit(mod, datamodule("binary"))
        results.append(snapshot(mod))
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


class DeterministicProbe:
    def __init__(self) -> None:
        self.seen: list[bool] = []

    def on_train_epoch_start(self, trainer, module):
        self.seen.append(torch.are_deterministic_algorithms_enabled())


@pytest.mark.parametrize("before", [False, True])
def test_deterministic_fit_restores_the_switch(before, datamodule, module, tmp_path):
    torch.use_deterministic_algorithms(before)
    probe = DeterministicProbe()
    trainer = Trainer(
        accelerator="cpu", max_epochs=2, deterministic=True, callbacks=[probe], default_root_dir=tmp_path
    )
    trainer.fit(module("binary"), datamodule("binary"))
    assert probe.seen == [True, True]  # on during the fit
    assert torch.are_deterministic_algorithms_enabled() is before  # as it was, after
    trainer.validate(module("binary"), datamodule("binary"))
    assert torch.are_deterministic_algorithms_enabled() is before


def test_deterministic_covers_evaluation_and_prediction(datamodule, module, tmp_path):
    mod = module("binary")
    seen: list[bool] = []
    mod.model.register_forward_hook(lambda *_: seen.append(torch.are_deterministic_algorithms_enabled()))
    trainer = Trainer(accelerator="cpu", deterministic=True, default_root_dir=tmp_path)
    dm = datamodule("binary")
    trainer.validate(mod, dm)
    trainer.test(mod, dm)
    trainer.predict(mod, dm)
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()


def test_deterministic_switch_is_restored_after_an_error(datamodule, module, tmp_path):
    class Fail:
        def on_train_epoch_end(self, trainer, module, metrics):
            raise RuntimeError("boom")

    assert not torch.are_deterministic_algorithms_enabled()
    trainer = Trainer(
        accelerator="cpu", max_epochs=2, deterministic=True, callbacks=[Fail()], default_root_dir=tmp_path
    )
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(module("binary"), datamodule("binary"))
    assert not torch.are_deterministic_algorithms_enabled()


def test_deterministic_algorithms_restores_warn_only_and_environment(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    with deterministic_algorithms(True):
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_non_deterministic_fit_leaves_the_switch_alone(datamodule, module, tmp_path):
    torch.use_deterministic_algorithms(True)
    Trainer(accelerator="cpu", max_epochs=1, deterministic=False, default_root_dir=tmp_path).fit(
        module("binary"), datamodule("binary")
    )
    assert torch.are_deterministic_algorithms_enabled()
