"""The wrong kind of file given as a CSV is named; compressed CSVs and other separators are read."""

from __future__ import annotations

import bz2
import gzip
import lzma
import shlex
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from trainer.build import build_datamodule
from trainer.config import compose_config, validate_config
from trainer.data import CsvSource
from trainer.data.file_sniff import describe_file
from trainer.errors import DataError

ROWS = ["a,b,y", *(f"{i},{i * 2},{i % 2}" for i in range(40))]
TEXT = "".join(f"{row}\n" for row in ROWS)


def _load_error(path: Path, sep: str = ",") -> str:
    with pytest.raises(DataError) as info:
        CsvSource(path=str(path), sep=sep).load()
    message = str(info.value)
    assert "\n" not in message, message
    return message


def _build(path: Path, *extra: str) -> object:
    """Compose, validate and build the data exactly as ``trainer train data=csv ...`` does."""
    cfg = compose_config(["data=csv", f"data.source.path={path}", "data.target=y", *extra]).cfg
    return build_datamodule(validate_config(cfg))


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs"), ("|", "pipes")])
@pytest.mark.parametrize("with_commas", [False, True], ids=["one_column", "ragged"])
def test_another_separator_is_named_with_an_override_that_works_when_pasted(
    tmp_path: Path, sep: str, name: str, with_commas: bool
) -> None:
    path = tmp_path / "table.csv"
    lines = [row.replace(",", sep) for row in ROWS]
    if with_commas:  # a text column with commas in it: the comma split gives ragged rows
        lines = [
            f"{line}{sep}{'c' if i == 0 else ('p, q' if i % 3 else 'r')}" for i, line in enumerate(lines)
        ]
    path.write_text("".join(f"{line}\n" for line in lines))
    message = _load_error(path)
    assert name in message
    override = message.split("pass ", 1)[1].split(" on the command line")[0]
    # Pasted into a POSIX shell, the override reaches the program as one argument...
    (argument,) = shlex.split(override)
    assert argument.startswith("data.source.sep=")
    # ...which Hydra composes into a config that reads the file.
    datamodule = _build(path, argument)
    assert datamodule.num_features >= 2  # type: ignore[attr-defined]


def test_a_tab_written_as_backslash_t_means_a_tab(tmp_path: Path) -> None:
    path = tmp_path / "table.tsv"
    path.write_text(TEXT.replace(",", "\t"))
    assert CsvSource(path=str(path), sep="\\t").load().shape == (40, 3)  # what Hydra passes for "\t"
    assert CsvSource(path=str(path), sep="tab").load().shape == (40, 3)


def test_a_single_column_file_is_not_mistaken_for_another_separator(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("y\n" + "".join(f"{i}\n" for i in range(5)))
    assert list(CsvSource(path=str(path)).load().columns) == ["y"]


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("table.csv.gz", gzip.compress),
        ("table.csv.bz2", bz2.compress),
        ("table.csv.xz", lzma.compress),
        ("saved_as.csv", gzip.compress),  # compressed but named .csv: read by its bytes
    ],
)
def test_compressed_csv_is_read_directly(tmp_path: Path, name: str, write: object) -> None:
    path = tmp_path / name
    path.write_bytes(write(TEXT.encode()))  # type: ignore[operator]
    assert CsvSource(path=str(path)).load().shape == (40, 3)


def test_zipped_csv_is_read_directly_and_through_the_config(tmp_path: Path) -> None:
    path = tmp_path / "table.csv.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("table.csv", TEXT)
    assert CsvSource(path=str(path)).load().shape == (40, 3)
    assert _build(path).num_features == 2  # type: ignore[attr-defined]


def test_a_zip_of_several_files_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bundle.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", TEXT)
        archive.writestr("b.csv", TEXT)
    message = _load_error(path)
    assert "a zip archive holding 2 file(s)" in message


def _sqlite(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("create table t (x)")
    connection.close()


def _xlsx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")


@pytest.mark.parametrize(
    ("write", "what"),
    [
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), "a PNG image"),
        (lambda p: p.write_bytes(b"PAR1" + bytes(200) + b"PAR1"), "a Parquet file"),
        (lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256))), "a PDF document"),
        (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100)), "a JPEG image"),
        (_sqlite, "a SQLite database"),
        (_xlsx, "an Excel workbook (.xlsx)"),
        (
            lambda p: p.write_bytes(bytes([7, 0, 200, 1]) * 50),
            "a binary file starting with bytes 07 00 c8 01",
        ),
    ],
)
def test_a_binary_file_given_as_a_csv_is_named_for_what_it_is(
    tmp_path: Path, write: Callable[[Path], object], what: str
) -> None:
    path = tmp_path / "data.csv"
    write(path)
    message = _load_error(path)
    assert f"is not a CSV file: it is {what}" in message or what in message
    assert "codec" not in message  # not the UnicodeDecodeError it used to be


def test_a_gzip_that_holds_no_text_says_it_is_a_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(bytes(range(256)) * 4))
    assert "a gzip file" in _load_error(path)


def test_describe_file_names_text_and_empty_files(tmp_path: Path) -> None:
    text, empty = tmp_path / "notes.txt", tmp_path / "empty"
    text.write_text("hello world\nsecond line\n")
    empty.write_bytes(b"")
    assert describe_file(text) == "a text file starting with 'hello world'"
    assert describe_file(empty) == "an empty file"
