"""A small model fits on one CPU thread under trainer.cpu_threads=auto; the setting is restored."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from trainer.build import build_data_and_module, build_trainer
from trainer.config.compose import compose_config
from trainer.engine.cpu_threads import SMALL_MODEL_PARAMETERS, choose_cpu_threads
from trainer.errors import ConfigError
from trainer.tracking.base import NullLogger

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert choose_cpu_threads("auto", device=CPU, parameters=20_000) == 1
    assert choose_cpu_threads("auto", device=CPU, parameters=SMALL_MODEL_PARAMETERS) is None
    assert choose_cpu_threads("auto", device=CUDA, parameters=20_000) is None
    assert choose_cpu_threads(3, device=CPU, parameters=10**9) == 3
    assert choose_cpu_threads("auto", device=CPU, parameters=20_000, processes=2) is None  # DDP
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a user's or torchrun's choice stands
    assert choose_cpu_threads("auto", device=CPU, parameters=20_000) is None


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True])
def test_a_bad_setting_is_one_line(bad: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"trainer.cpu_threads=.* must be auto or a whole number of 1 or more"
    ):
        build_trainer(
            compose_config([f"trainer.cpu_threads={bad}"]).cfg, run_dir=".", callbacks=[], logger=NullLogger()
        )


class _ThreadsSeen:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self.seen.append(torch.get_num_threads())


@pytest.mark.parametrize(("setting", "expected"), [("auto", 1), ("2", 2)])
def test_a_fit_uses_the_chosen_threads_and_restores_them(
    setting: str, expected: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cfg = compose_config(
        ["data=digits", "trainer.max_epochs=1", "trainer.accelerator=cpu", f"trainer.cpu_threads={setting}"]
    ).cfg
    datamodule, module = build_data_and_module(cfg)
    seen = _ThreadsSeen()
    trainer = build_trainer(cfg, run_dir=tmp_path, callbacks=[seen], logger=NullLogger())
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        trainer.fit(module, datamodule)
        assert seen.seen == [expected]
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
