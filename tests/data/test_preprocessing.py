"""Preprocessing is fit on training rows only; categories are one-hot encoded; the task is inferred."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainer.data import CsvSource, TabularDataModule
from trainer.data.feature_layout import FeatureLayout
from trainer.data.preprocessing import split_column_kinds
from trainer.errors import DataError
from trainer.tasks import infer_task

WriteCsv = Callable[[str, list[str]], Path]


def _drifting_table(write_csv: WriteCsv) -> Path:
    """``t`` orders the rows; ``amount`` grows with it, so train and whole-table statistics differ.

    Region ``z`` appears only in the last (test) rows; one training amount is missing.
    """
    lines = ["t,amount,region,y"]
    for i in range(100):
        region = "z" if i >= 90 else "nsew"[i % 4]
        amount = "" if i == 5 else f"{i * 10.0}"
        lines.append(f"{i},{amount},{region},{i % 2}")
    return write_csv("drift.csv", lines)


@pytest.fixture
def drift(write_csv: WriteCsv) -> TabularDataModule:
    datamodule = TabularDataModule(
        source=CsvSource(path=str(_drifting_table(write_csv))),
        target="y",
        drop=["t"],
        split="time",
        time_column="t",
        val_fraction=0.1,
        test_fraction=0.1,
    )
    datamodule.setup()
    return datamodule


def test_scaler_statistics_come_from_training_rows_only(drift: TabularDataModule) -> None:
    frame = pd.read_csv(drift.source.path)  # type: ignore[attr-defined]
    train_amounts = frame.loc[drift.indices_.train, "amount"]
    assert drift.indices_.train.max() == 79  # the first 80 rows by t
    scaler = drift.preprocessor_.named_transformers_["num"].named_steps["scale"]
    imputer = drift.preprocessor_.named_transformers_["num"].named_steps["impute"]
    assert imputer.statistics_[0] == pytest.approx(train_amounts.median())
    imputed = train_amounts.fillna(train_amounts.median())
    assert scaler.mean_[0] == pytest.approx(imputed.mean())
    assert scaler.mean_[0] != pytest.approx(frame["amount"].fillna(frame["amount"].median()).mean())
    assert scaler.scale_[0] == pytest.approx(imputed.std(ddof=0))


def test_training_features_are_standardised_and_later_rows_are_not(drift: TabularDataModule) -> None:
    column = drift.feature_names_.index("amount")
    train = drift.tensors("train")[0][:, column]
    test = drift.tensors("test")[0][:, column]
    assert float(train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(train.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    assert float(test.min()) > 1.5  # the later, larger amounts are scaled with train statistics
    assert not any(np.isnan(drift.tensors(name)[0].numpy()).any() for name in ("train", "val", "test"))


def test_categories_are_one_hot_encoded_and_unseen_ones_are_all_zeros(drift: TabularDataModule) -> None:
    assert drift.numeric_columns_ == ["amount"] and drift.categorical_columns_ == ["region"]
    assert drift.feature_names_ == ["amount", "region_e", "region_n", "region_s", "region_w"]
    assert drift.raw_feature_columns_ == ["amount", "region"]
    one_hot = drift.tensors("train")[0][:, 1:]
    assert set(one_hot.unique().tolist()) == {0.0, 1.0}
    assert (one_hot.sum(dim=1) == 1).all()
    test = drift.splits_["test"]
    assert set(test["region"]) == {"z"}  # never seen in training
    assert (drift.tensors("test")[0][:, 1:] == 0).all()


def test_missing_categories_become_their_own_category(write_csv: WriteCsv) -> None:
    lines = ["color,y", *(f"{'' if i % 5 == 0 else 'rg'[i % 2]},{i % 2}" for i in range(60))]
    datamodule = TabularDataModule(
        source=CsvSource(path=str(write_csv("c.csv", lines))), target="y", split="random", seed=1
    )
    datamodule.setup()
    assert datamodule.feature_names_ == ["color_g", "color_missing", "color_r"]


def test_column_kinds_are_detected() -> None:
    frame = pd.DataFrame(
        {
            "n": [1.0, 2.0, 3.0],
            "i": [1, 2, 3],
            "text": ["a", "b", "c"],
            "flag": [True, False, True],
            "numbers_as_text": ["1", "2.5", None],
        }
    )
    numeric, categorical = split_column_kinds(frame, categorical=None, where="t.csv")
    assert numeric == ["n", "i", "numbers_as_text"]
    assert categorical == ["text", "flag"]
    numeric, categorical = split_column_kinds(frame, categorical=["i", "text", "flag"], where="t.csv")
    assert categorical == ["i", "text", "flag"] and numeric == ["n", "numbers_as_text"]


def test_a_mostly_numeric_text_column_is_reported_not_one_hot_encoded() -> None:
    frame = pd.DataFrame({"amount": [str(i) for i in range(19)] + ["n/a"]})
    with pytest.raises(
        DataError,
        match=r"Column 'amount' of t\.csv is numeric but row 19 \(data rows counted from 0\) holds 'n/a'",
    ):
        split_column_kinds(frame, categorical=None, where="t.csv")


def test_declared_categorical_columns_must_exist() -> None:
    frame = pd.DataFrame({"make": ["a"], "age": [3]})
    with pytest.raises(DataError, match=r"data\.categorical='maker'.*Did you mean 'make'"):
        split_column_kinds(frame, categorical=["maker"], where="t.csv")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], "binary"),
        (["yes", "no", "no"], "binary"),
        ([True, False, True], "binary"),
        ([0.0, 1.0, 0.0, None], "binary"),
        ([0, 1, 2, 3, 4, 1], "multiclass"),
        (["cat", "dog", "bird"], "multiclass"),
        ([0.5, 1.25, 3.0, 7.5], "regression"),
        (list(range(60)), "regression"),  # too many integer values to be classes
    ],
)
def test_infer_task(values: list[object], task: str) -> None:
    assert infer_task(pd.Series(values)) == task


def test_text_labels_are_encoded_in_sorted_order(write_csv: WriteCsv) -> None:
    lines = ["x,y", *(f"{i},{['high', 'low', 'mid'][i % 3]}" for i in range(60))]
    datamodule = TabularDataModule(source=CsvSource(path=str(write_csv("m.csv", lines))), target="y")
    datamodule.setup()
    assert datamodule.task == "multiclass" and datamodule.classes_ == ["high", "low", "mid"]
    labels = datamodule.tensors("train")[1]
    assert labels.dtype.is_floating_point is False and set(labels.tolist()) == {0, 1, 2}
    train = datamodule.splits_["train"]
    expected = train["y"].map({"high": 0, "low": 1, "mid": 2}).tolist()
    assert labels.tolist() == expected


def test_boolean_columns_with_gaps_are_categories_too(write_csv: WriteCsv) -> None:
    lines = ["insured,x,y", *(f"{['True', 'False', ''][i % 3]},{i},{i % 2}" for i in range(60))]
    datamodule = TabularDataModule(source=CsvSource(path=str(write_csv("b.csv", lines))), target="y")
    datamodule.setup()
    assert datamodule.categorical_columns_ == ["insured"]
    assert datamodule.feature_names_ == ["x", "insured_False", "insured_True", "insured_missing"]


def test_a_column_without_values_in_the_training_rows_is_left_out_with_one_warning(
    write_csv: WriteCsv, caplog: pytest.LogCaptureFixture
) -> None:
    # 'blank' is empty everywhere; 'late' only has values in the last (test) rows of a time split.
    lines = ["t,amount,blank,late,kind,y"]
    lines += [f"{i},{i * 1.5},,{i if i >= 90 else ''},{'ab'[i % 2]},{i % 2}" for i in range(100)]
    datamodule = TabularDataModule(
        source=CsvSource(path=str(write_csv("gaps.csv", lines))),
        target="y",
        split="time",
        time_column="t",
        val_fraction=0.1,
        test_fraction=0.1,
    )
    with caplog.at_level("WARNING", logger="trainer"):
        datamodule.setup()
    assert datamodule.feature_names_ == ["amount", "kind_a", "kind_b"]
    assert datamodule.raw_table().columns == ["amount", "kind"]
    # What the fraud study and the embedding model read back from the fitted preprocessing.
    layout = FeatureLayout.from_preprocessor(datamodule.preprocessor_)
    assert layout.raw_columns == ["amount", "kind", "kind"] and datamodule.categorical_cardinalities == [2]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith("Columns 'blank', 'late' of ") and "data.drop=[blank,late]" in warning


def test_a_table_whose_features_are_all_empty_is_refused(write_csv: WriteCsv) -> None:
    lines = ["a,b,y", *(f",,{i % 2}" for i in range(40))]
    datamodule = TabularDataModule(source=CsvSource(path=str(write_csv("blank.csv", lines))), target="y")
    with pytest.raises(
        DataError, match=r"No feature column of .*blank.csv has a value in the training rows \(a, b\)"
    ):
        datamodule.setup()
