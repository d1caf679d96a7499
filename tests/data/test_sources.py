"""Bundled scikit-learn sets and the synthetic generator load, and build into datamodules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainer.build import build_datamodule
from trainer.config import compose_config, validate_config
from trainer.data import SklearnSource, SyntheticSource, TabularDataModule
from trainer.errors import ConfigError

SKLEARN = {  # name: (rows, feature columns, task, classes)
    "breast_cancer": (569, 30, "binary", 2),
    "digits": (1797, 64, "multiclass", 10),
    "wine": (178, 13, "multiclass", 3),
    "diabetes": (442, 10, "regression", 0),
}


@pytest.mark.parametrize("name", list(SKLEARN))
def test_sklearn_set_loads(name: str) -> None:
    rows, features, _, classes = SKLEARN[name]
    source = SklearnSource(name=name)
    frame = source.load()
    assert frame.shape == (rows, features + 1)
    assert "target" in frame.columns
    assert not any(" " in column for column in frame.columns)
    assert not frame.isna().any().any()
    if classes:
        assert frame["target"].nunique() == classes
    assert source.describe() == {"name": name, "source": f"sklearn.datasets.load_{name}"}


@pytest.mark.parametrize("name", list(SKLEARN))
def test_sklearn_config_builds_its_datamodule(name: str) -> None:
    rows, features, task, classes = SKLEARN[name]
    cfg = validate_config(compose_config([f"data={name}"]).cfg)
    datamodule = build_datamodule(cfg)
    assert datamodule.task == task and datamodule.num_classes == classes
    assert datamodule.num_features == features
    counts = [len(datamodule.tensors(split)[0]) for split in ("train", "val", "test")]
    assert sum(counts) == rows
    assert counts[2] == pytest.approx(rows * cfg.data.test_fraction, abs=1)
    described = datamodule.describe()
    assert described["rows_train"] == counts[0] and described["task"] == task


def test_unknown_bundled_set() -> None:
    with pytest.raises(ConfigError, match=r"data\.source\.name='iris'.*digits, wine, diabetes"):
        SklearnSource(name="iris")


def test_synthetic_classification_table() -> None:
    source = SyntheticSource(n_samples=2000, n_features=6, n_categorical=2, weights=[0.9, 0.1])
    frame = source.load()
    assert list(frame.columns) == ["x0", "x1", "x2", "x3", "cat4", "cat5", "target"]
    for column in ("cat4", "cat5"):
        assert set(frame[column]) == {"a", "b", "c", "d"}
    assert frame["target"].dtype == np.int64
    assert 0.07 < frame["target"].mean() < 0.13  # the asked imbalance (plus 1% label noise)
    options = {"n_samples": 2000, "n_features": 6, "n_categorical": 2, "weights": [0.9, 0.1]}
    pd.testing.assert_frame_equal(frame, SyntheticSource(**options).load())  # type: ignore[arg-type]
    assert not frame.equals(SyntheticSource(**options, random_state=1).load())  # type: ignore[arg-type]


def test_synthetic_regression_table_builds_a_regression_datamodule() -> None:
    source = SyntheticSource(kind="regression", n_samples=300, n_features=5)
    frame = source.load()
    assert frame.shape == (300, 6) and frame["target"].dtype == np.float64
    assert frame["target"].nunique() == 300
    datamodule = TabularDataModule(source=source, split="random")
    datamodule.setup()
    assert datamodule.task == "regression" and datamodule.num_features == 5
    assert datamodule.tensors("train")[1].dtype.is_floating_point


def test_synthetic_categorical_columns_are_one_hot_encoded() -> None:
    datamodule = TabularDataModule(source=SyntheticSource(n_samples=400, n_features=5, n_categorical=2))
    datamodule.setup()
    assert datamodule.task == "binary"
    assert datamodule.categorical_columns_ == ["cat3", "cat4"]
    assert datamodule.num_features == 3 + 4 + 4


def test_synthetic_kind_is_a_task_name() -> None:
    frame = SyntheticSource(kind="multiclass", n_classes=3, n_samples=300, n_features=5).load()
    assert sorted(frame["target"].unique()) == [0, 1, 2]
    assert SyntheticSource(kind="regression").describe()["name"] == "synthetic_regression"
    assert SyntheticSource().describe()["name"] == "synthetic_classification"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"kind": "clustering"}, "data.source.kind"),
        ({"kind": "classification"}, r"choose one of binary, multiclass, regression"),
        ({"kind": "reconstruction"}, "data.source.kind"),
        ({"kind": "binary", "n_classes": 3}, r"kind=binary draws 2 classes.*kind=multiclass"),
        ({"n_features": 3, "n_categorical": 4}, "n_categorical"),
    ],
)
def test_synthetic_bad_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SyntheticSource(**options)  # type: ignore[arg-type]
