"""Splits: stratified keeps class proportions, random has the asked sizes, time never looks ahead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainer.data import CsvSource, TabularDataModule
from trainer.data.splits import SplitIndices, random_split, time_split
from trainer.errors import ConfigError, DataError


def _assert_partition(split: SplitIndices, rows: int) -> None:
    together = np.concatenate([split.train, split.val, split.test])
    assert len(together) == rows
    assert np.array_equal(np.sort(together), np.arange(rows))  # disjoint and complete


def test_stratified_split_keeps_class_proportions() -> None:
    labels = np.array([0] * 900 + [1] * 80 + [2] * 20)
    rng = np.random.default_rng(0)
    labels = labels[rng.permutation(len(labels))]
    split = random_split(labels, val_fraction=0.15, test_fraction=0.15, stratify=True, seed=3)
    _assert_partition(split, len(labels))
    overall = np.bincount(labels) / len(labels)
    for part in (split.train, split.val, split.test):
        share = np.bincount(labels[part], minlength=3) / len(part)
        # Within one row of the overall share in each split.
        assert np.all(np.abs(share - overall) <= 1.0 / len(part) + 1e-9), share
    assert len(split.test) == 150 and len(split.val) == 150


def test_random_split_sizes_and_seed() -> None:
    labels = np.zeros(1000)
    split = random_split(labels, val_fraction=0.2, test_fraction=0.1, stratify=False, seed=0)
    _assert_partition(split, 1000)
    assert (len(split.train), len(split.val), len(split.test)) == (700, 200, 100)
    again = random_split(labels, val_fraction=0.2, test_fraction=0.1, stratify=False, seed=0)
    assert np.array_equal(again.test, split.test)
    other = random_split(labels, val_fraction=0.2, test_fraction=0.1, stratify=False, seed=1)
    assert not np.array_equal(other.test, split.test)
    assert not np.array_equal(split.test, np.arange(900, 1000))  # shuffled, not the tail


def test_zero_fractions_give_empty_splits() -> None:
    split = random_split(np.arange(50) % 2, val_fraction=0.0, test_fraction=0.2, stratify=True, seed=0)
    assert len(split.val) == 0 and len(split.test) == 10 and len(split.train) == 40


@pytest.mark.parametrize(("val", "test"), [(0.5, 0.5), (-0.1, 0.2), (0.2, 1.0)])
def test_fractions_that_leave_no_training_rows_are_config_errors(val: float, test: float) -> None:
    with pytest.raises(ConfigError, match=r"data\.(val|test)_fraction"):
        random_split(np.arange(100) % 2, val_fraction=val, test_fraction=test, stratify=False, seed=0)


def test_impossible_stratification_says_what_to_do() -> None:
    labels = np.array([0] * 30 + [1])
    with pytest.raises(DataError, match=r"data\.split=random"):
        random_split(labels, val_fraction=0.15, test_fraction=0.15, stratify=True, seed=0)


def _years(seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(rng.choice([1994, 1995, 1996], size=300, p=[0.5, 0.3, 0.2]))


def test_time_split_with_start_values() -> None:
    years = _years()
    split = time_split(years, val_fraction=0.0, test_fraction=0.0, val_start=1995, test_start=1996)
    _assert_partition(split, len(years))
    assert set(years.iloc[split.test]) == {1996}
    assert len(split.test) == int((years >= 1996).sum())  # every 1996 row is in test
    assert set(years.iloc[split.val]) == {1995}
    assert set(years.iloc[split.train]) == {1994}


def test_time_split_with_test_start_only_trains_on_everything_before() -> None:
    years = _years(1)
    split = time_split(years, val_fraction=0.15, test_fraction=0.15, test_start=1996)
    assert years.iloc[split.train].max() < years.iloc[split.test].min() == 1996
    assert len(split.val) == 0


def test_time_split_by_fractions_has_no_look_ahead() -> None:
    rng = np.random.default_rng(0)
    times = pd.Series(rng.integers(0, 50, size=400))  # many ties
    split = time_split(times, val_fraction=0.2, test_fraction=0.25)
    _assert_partition(split, 400)
    assert (len(split.train), len(split.val), len(split.test)) == (220, 80, 100)
    assert times.iloc[split.train].max() <= times.iloc[split.val].min()
    assert times.iloc[split.val].max() <= times.iloc[split.test].min()


def test_time_split_on_dates() -> None:
    dates = pd.Series(pd.date_range("2020-01-01", periods=100, freq="D")).sample(frac=1, random_state=0)
    dates = dates.reset_index(drop=True)
    split = time_split(dates, val_fraction=0.1, test_fraction=0.1)
    assert dates.iloc[split.train].max() < dates.iloc[split.val].min()
    assert dates.iloc[split.test].min() == pd.Timestamp("2020-03-31")  # the last 10 of 100 days


def test_time_split_that_leaves_no_training_rows() -> None:
    with pytest.raises(DataError, match="leave no training rows"):
        time_split(_years(), val_fraction=0.0, test_fraction=0.0, test_start=1990)


def test_datamodule_time_split_needs_a_time_column() -> None:
    from trainer.data import SyntheticSource

    with pytest.raises(ConfigError, match=r"data\.time_column"):
        TabularDataModule(source=SyntheticSource(), split="time")


def test_datamodule_splits_by_time_column(write_csv: Callable[[str, list[str]], Path]) -> None:
    lines = ["year,x,y", *(f"{1990 + i % 10},{i},{i % 2}" for i in range(200))]
    datamodule = TabularDataModule(
        source=CsvSource(path=str(write_csv("t.csv", lines))),
        target="y",
        split="time",
        time_column="year",
        test_start=1998,
        val_start=1996,
    )
    datamodule.setup()
    train, val, test = (datamodule.splits_[name]["year"] for name in ("train", "val", "test"))
    assert train.max() == 1995 and val.min() == 1996 and val.max() == 1997 and test.min() == 1998
    assert len(test) == 40
    assert len(datamodule.tensors("test")[0]) == 40


def test_time_split_keeps_the_time_column_out_of_the_features(
    write_csv: Callable[[str, list[str]], Path],
) -> None:
    # One training year: the column is constant in training and only takes new values later.
    lines = ["year,x,y", *(f"{2000 + (i >= 100) + (i >= 150)},{i % 7},{i % 2}" for i in range(200))]
    path = str(write_csv("years.csv", lines))
    years = {"split": "time", "time_column": "year", "val_start": 2001, "test_start": 2002}
    by_time = TabularDataModule(source=CsvSource(path=path), target="y", **years)  # type: ignore[arg-type]
    by_time.setup()
    assert by_time.raw_feature_columns_ == ["x"] and by_time.feature_names_ == ["x"]
    assert by_time.tensors("test")[0].shape == (50, 1)
    assert list(by_time.splits_["test"]["year"].unique()) == [2002]  # still there to split and report by
    # Any other split keeps it: every period is then in training.
    random = TabularDataModule(source=CsvSource(path=path), target="y", time_column="year")
    random.setup()
    assert random.raw_feature_columns_ == ["year", "x"]
    # Dropping it as well is no error.
    dropped = TabularDataModule(source=CsvSource(path=path), target="y", drop=["year"], **years)  # type: ignore[arg-type]
    dropped.setup()
    assert dropped.raw_feature_columns_ == ["x"]


def test_time_split_with_only_the_time_column_names_it(write_csv: Callable[[str, list[str]], Path]) -> None:
    lines = ["year,y", *(f"{2000 + i // 50},{i % 2}" for i in range(200))]
    datamodule = TabularDataModule(
        source=CsvSource(path=str(write_csv("only.csv", lines))), target="y", split="time", time_column="year"
    )
    with pytest.raises(DataError, match=r"No feature columns .*time_column \(a time split keeps it out\)"):
        datamodule.setup()


def test_datamodule_stratifies_by_default(write_csv: Callable[[str, list[str]], Path]) -> None:
    lines = ["x,y", *(f"{i},{int(i % 10 == 0)}" for i in range(400))]  # 10% positives
    datamodule = TabularDataModule(source=CsvSource(path=str(write_csv("s.csv", lines))), target="y")
    datamodule.setup()
    for name in ("train", "val", "test"):
        labels = datamodule.tensors(name)[1]
        assert abs(float(labels.mean()) - 0.1) <= 1.0 / len(labels) + 1e-6, name
