"""Every mistake in a CSV table stops with one DataError that names the value and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trainer.build import build_datamodule
from trainer.config import compose_config, validate_config
from trainer.data import CsvSource, TabularDataModule
from trainer.errors import ConfigError, DataError, UserError

WriteCsv = Callable[[str, list[str]], Path]


def _setup_error(path: Path, target: str = "y", **options: object) -> str:
    datamodule = TabularDataModule(source=CsvSource(path=str(path)), target=target, **options)  # type: ignore[arg-type]
    with pytest.raises(DataError) as info:
        datamodule.setup()
    message = str(info.value)
    assert "\n" not in message
    return message


def _good_rows(n: int = 30) -> list[str]:
    return ["a,b,y", *(f"{i},{i * 2},{i % 2}" for i in range(n))]


def test_data_error_is_a_user_error() -> None:
    assert issubclass(DataError, UserError)


def test_missing_file_names_the_path_and_where_it_is_read_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = _setup_error(Path("nope.csv"))
    assert "data.source.path='nope.csv' does not exist" in message
    assert str(tmp_path) in message  # relative paths are read from the working directory


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    assert "is a folder" in _setup_error(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    message = _setup_error(path)
    assert str(path) in message and "empty file" in message and "header row" in message


def test_blank_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n")
    assert "no columns" in _setup_error(path)


def test_header_only(write_csv: WriteCsv) -> None:
    path = write_csv("header.csv", ["a,b,y"])
    message = _setup_error(path)
    assert str(path) in message and "no data rows" in message


def test_ragged_rows_cannot_be_parsed(write_csv: WriteCsv) -> None:
    path = write_csv("ragged.csv", ["a,b,y", "1,2,0", "1,2,3,4,5"])
    message = _setup_error(path)
    assert "could not be parsed as CSV" in message and "data.source.sep" in message


def test_target_column_absent_suggests_a_close_name(write_csv: WriteCsv) -> None:
    path = write_csv("t.csv", ["amount,label", "1,0", "2,1"])
    message = _setup_error(path, target="lable")
    assert "data.target='lable' is not a column" in message
    assert "amount, label" in message  # the columns are listed
    assert "Did you mean 'label'?" in message


def test_drop_and_time_columns_are_checked_too(write_csv: WriteCsv) -> None:
    path = write_csv("t.csv", _good_rows())
    assert "data.drop='c' is not a column" in _setup_error(path, drop=["c"])
    message = _setup_error(path, split="time", time_column="yeer")
    assert "data.time_column='yeer'" in message


def test_non_numeric_value_in_a_numeric_column_names_column_row_and_value(write_csv: WriteCsv) -> None:
    lines = _good_rows()
    lines[8] = "7,oops,1"  # data row 7 (0-based), the file's ninth line
    message = _setup_error(write_csv("bad.csv", lines))
    assert "Column 'b'" in message
    assert "row 7 (data rows counted from 0) holds 'oops'" in message
    assert "data.categorical" in message and "data.drop" in message  # the fixes


def test_a_numeric_column_listed_as_categorical_is_one_hot_encoded(write_csv: WriteCsv) -> None:
    lines = _good_rows()
    lines[8] = "7,oops,1"
    datamodule = TabularDataModule(
        source=CsvSource(path=str(write_csv("bad.csv", lines))), target="y", categorical=["b"]
    )
    datamodule.setup()  # the fix the message suggests works
    assert datamodule.categorical_columns_ == ["b"] and datamodule.numeric_columns_ == ["a"]
    seen = datamodule.splits_["train"]["b"].astype(str).unique()
    assert sorted(datamodule.feature_names_) == sorted(["a", *(f"b_{v}" for v in seen)])


def test_target_with_one_class(write_csv: WriteCsv) -> None:
    path = write_csv("one.csv", ["a,y", *(f"{i},yes" for i in range(20))])
    message = _setup_error(path)
    assert "single class ('yes')" in message and "at least two" in message


def test_binary_task_with_three_classes(write_csv: WriteCsv) -> None:
    path = write_csv("three.csv", ["a,y", *(f"{i},{i % 3}" for i in range(30))])
    message = _setup_error(path, task="binary")
    assert "3 classes" in message and "data.task=multiclass" in message


def test_missing_target_values_are_counted(write_csv: WriteCsv) -> None:
    lines = ["a,b,y", *(f"{i},{i},{'' if i in (3, 5) else i % 2}" for i in range(20))]
    message = _setup_error(write_csv("gaps.csv", lines))
    assert "data.target='y' has 2 missing values" in message
    assert "remove those rows or fill them" in message


def test_text_target_for_regression(write_csv: WriteCsv) -> None:
    message = _setup_error(write_csv("r.csv", ["a,y", "1,low", "2,high", "3,1.5"]), task="regression")
    assert "must be numeric for regression" in message and "'low'" in message


def test_no_feature_columns_left(write_csv: WriteCsv) -> None:
    message = _setup_error(write_csv("f.csv", ["a,y", "1,0", "2,1"]), drop=["a"])
    assert "No feature columns" in message


def test_empty_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"data\.source\.path is empty"):
        CsvSource(path="")


def test_data_errors_come_through_the_config_unwrapped(tmp_path: Path) -> None:
    # instantiate() wraps exceptions; build_datamodule must hand ours back as they were.
    missing = tmp_path / "claims.csv"
    cfg = validate_config(compose_config(["data=csv", f"data.source.path={missing}", "data.target=y"]).cfg)
    with pytest.raises(DataError, match="does not exist") as info:
        build_datamodule(cfg)
    assert str(missing) in str(info.value)
