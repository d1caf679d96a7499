"""`trainer train resample=<sampler>` resamples the training rows only; `data.train_label` keeps one class."""

from __future__ import annotations

import pytest
import torch

from trainer.build import build_datamodule
from trainer.config import compose_config, validate_config
from trainer.errors import ConfigError


def _datamodule(*overrides: str):  # type: ignore[no-untyped-def]
    return build_datamodule(validate_config(compose_config(["data=fraud_claims", *overrides]).cfg))


def test_resample_changes_training_rows_only() -> None:
    plain = _datamodule()
    smote = _datamodule("resample=smote")
    x_plain, y_plain = plain.tensors("train")
    x_smote, y_smote = smote.tensors("train")
    assert len(y_smote) > len(y_plain)
    assert float(y_smote.mean()) == pytest.approx(0.5, abs=0.01)  # sampling_strategy=auto balances
    assert torch.equal(x_smote[: len(x_plain)], x_plain)  # imblearn appends the synthetic rows
    for split in ("val", "test"):
        assert torch.equal(smote.tensors(split)[0], plain.tensors(split)[0])
        assert torch.equal(smote.tensors(split)[1], plain.tensors(split)[1])


def test_a_typo_in_a_resample_key_names_the_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"resample\.k_neighbours is not a resample setting.*k_neighbors"):
        _datamodule("resample=smote", "+resample.k_neighbours=3")


def test_train_label_keeps_normal_training_rows_and_every_evaluation_row() -> None:
    every = _datamodule()
    normal = _datamodule("data.train_label=0")
    assert int(normal.tensors("train")[1].sum()) == 0
    assert len(normal.tensors("train")[1]) == int((every.tensors("train")[1] == 0).sum())
    assert torch.equal(normal.tensors("val")[1], every.tensors("val")[1])
    with pytest.raises(ConfigError, match=r"data\.train_label='maybe' is not a class"):
        _datamodule("data.train_label=maybe")
