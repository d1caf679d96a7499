"""A table prepared again in the same process is served from the last preparation, identical
to a fresh one, and never when a setting or the file changed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trainer.build import build_data_and_module
from trainer.config.compose import compose_config
from trainer.data import prepared_cache
from trainer.data.resample import Resampler


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    prepared_cache.forget()


def _build(*overrides: str):  # type: ignore[no-untyped-def]
    return build_data_and_module(compose_config(["data=digits", *overrides]).cfg)


def test_a_second_build_equals_a_fresh_one_weights_included() -> None:
    first_data, _ = _build()
    again_data, again_module = _build("data.batch_size=16")  # batching is not part of the preparation
    assert again_data.preprocessor_ is first_data.preprocessor_  # served from the cache
    prepared_cache.forget()
    fresh_data, fresh_module = _build("data.batch_size=16")
    assert fresh_data.preprocessor_ is not first_data.preprocessor_
    for split in ("train", "val", "test"):
        for ours, theirs in zip(again_data.tensors(split), fresh_data.tensors(split), strict=True):
            assert torch.equal(ours, theirs)
    # Preparing consumed no global random state: the initial weights are the same either way.
    for ours, theirs in zip(
        again_module.state_dict().values(), fresh_module.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs)
    assert again_data.train_dataloader().batch_size == 16


def test_resampling_one_run_leaves_the_next_its_own_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    frame["target"] = (rng.random(300) < 0.1).astype(int)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    overrides = ["data=csv", f"data.source.path={path}", "data.target=target"]
    data, _ = _build(*overrides)
    rows = len(data.tensors("train")[1])
    data.resample_training_rows(Resampler(name="random_over", random_state=0))
    assert len(data.tensors("train")[1]) > rows
    again, _ = _build(*overrides)
    assert len(again.tensors("train")[1]) == rows


def test_a_changed_setting_or_file_is_prepared_again(tmp_path: Path) -> None:
    first, _ = _build()
    other_split, _ = _build("data.val_fraction=0.2")
    assert other_split.preprocessor_ is not first.preprocessor_
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": range(40), "target": [0, 1] * 20}).to_csv(path, index=False)
    overrides = ["data=csv", f"data.source.path={path}", "data.target=target"]
    before, _ = _build(*overrides)
    pd.DataFrame({"a": range(60), "target": [0, 1] * 30}).to_csv(path, index=False)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    after, _ = _build(*overrides)
    assert sum(len(after.tensors(s)[1]) for s in ("train", "val", "test")) == 60
    assert sum(len(before.tensors(s)[1]) for s in ("train", "val", "test")) == 40
