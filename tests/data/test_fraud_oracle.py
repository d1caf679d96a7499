"""The fraud_oracle config reads the real claims file: trains on 1994, validates on 1995, tests on 1996."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainer.build import build_datamodule
from trainer.config import compose_config, validate_config
from trainer.data import TabularDataModule

from .conftest import FRAUD_ORACLE, requires_fraud_oracle

pytestmark = requires_fraud_oracle
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fraud() -> tuple[TabularDataModule, pd.DataFrame]:
    # The config's own relative path, read from the project folder as the README runs it.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        cfg = validate_config(compose_config(["data=fraud_oracle"]).cfg)
        datamodule = build_datamodule(cfg)
    return datamodule, pd.read_csv(FRAUD_ORACLE)


def test_the_config_points_at_the_shared_file(fraud: tuple[TabularDataModule, pd.DataFrame]) -> None:
    datamodule, _ = fraud
    assert Path(datamodule.describe()["source"]) == FRAUD_ORACLE.resolve()


def test_1996_rows_are_the_test_split(fraud: tuple[TabularDataModule, pd.DataFrame]) -> None:
    datamodule, table = fraud
    splits = datamodule.splits_
    assert set(splits["test"]["Year"]) == {1996}
    assert len(splits["test"]) == int((table["Year"] == 1996).sum())
    assert set(splits["val"]["Year"]) == {1995}
    assert set(splits["train"]["Year"]) == {1994}
    assert sum(len(part) for part in splits.values()) == len(table) == 15420


def test_features_and_labels(fraud: tuple[TabularDataModule, pd.DataFrame]) -> None:
    datamodule, table = fraud
    assert datamodule.task == "binary" and datamodule.classes_ == [0, 1]
    assert "PolicyNumber" not in datamodule.raw_feature_columns_
    assert "FraudFound_P" not in datamodule.raw_feature_columns_
    assert len(datamodule.categorical_columns_) == 24  # the README's text columns
    assert "Make_Honda" in datamodule.feature_names_
    test_labels = datamodule.tensors("test")[1]
    assert float(test_labels.mean()) == pytest.approx(0.0522, abs=0.0005)  # the README's 5.22%
    assert int(test_labels.sum()) == int(table.loc[table["Year"] == 1996, "FraudFound_P"].sum())
