"""A table with fewer rows than its splits says so, instead of "a single class" or a sklearn error."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.data import CsvSource, TabularDataModule
from trainer.data.splits import check_row_count
from trainer.data.text import TextDataModule
from trainer.errors import DataError


def _csv(path: Path, rows: list[str], header: str = "a,b,y") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("task", ["auto", "regression"])
def test_a_one_row_table_is_named_as_too_small(tmp_path: Path, task: str) -> None:
    source = CsvSource(path=str(_csv(tmp_path / "one.csv", ["1,2,0"])))
    data = TabularDataModule(source=source, target="y", task=task)
    with pytest.raises(DataError) as caught:
        data.setup()
    message = str(caught.value)
    assert "one.csv has 1 row;" in message
    assert "split needs at least 3 (one each)" in message
    assert "single class" not in message


def test_a_two_row_text_file_is_named_as_too_small(tmp_path: Path) -> None:
    path = _csv(tmp_path / "texts.csv", ["good film,1", "bad film,0"], header="text,label")
    with pytest.raises(
        DataError, match=r"texts.csv has 2 rows; the training/validation/test split needs at least 3"
    ):
        TextDataModule(path=str(path)).setup()


def test_the_least_rows_follow_the_splits_asked_for() -> None:
    check_row_count(1, val_fraction=0.0, test_fraction=0.0, where="t.csv")  # training only: one row will do
    with pytest.raises(DataError, match=r"t.csv has 1 row; the training/test split needs at least 2"):
        check_row_count(1, val_fraction=0.0, test_fraction=0.2, where="t.csv")
    with pytest.raises(DataError, match=r"t.csv has 0 rows;"):
        check_row_count(0, val_fraction=0.1, test_fraction=0.1, where="t.csv")
