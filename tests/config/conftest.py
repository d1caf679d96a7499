"""Fixtures of the config tests: a tiny CSV table and the shared real claims file."""

from __future__ import annotations

from pathlib import Path

import pytest

FRAUD_ORACLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud_oracle.csv"


def write_tiny_csv(path: Path, rows: int = 60) -> Path:
    """A small mixed table: two numeric features, one text feature, a binary target ``label``."""
    lines = ["id,amount,age,region,label"]
    lines += [f"{i},{(i * 37) % 101 / 10:.1f},{20 + i % 40},{'nsew'[i % 4]},{i % 2}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    return write_tiny_csv(tmp_path / "tiny.csv")


def write_tiny_idx_folder(folder: Path) -> Path:
    """The four Fashion-MNIST IDX files with 40 training and 20 test images (not the real md5)."""
    import numpy as np

    from trainer.data.idx import FASHION_MNIST_FILES, write_idx

    folder.mkdir(parents=True, exist_ok=True)
    names = list(FASHION_MNIST_FILES)
    for (images, labels), rows in ((names[:2], 40), (names[2:], 20)):
        write_idx(folder / images, np.random.default_rng(rows).integers(0, 255, (rows, 28, 28)))
        write_idx(folder / labels, np.arange(rows) % 10)
    return folder


def write_tiny_jena(path: Path, rows: int = 4000) -> Path:
    """A Jena-climate-like CSV (Date Time, p (mbar), T (degC)) long enough for the default windows."""
    lines = ['"Date Time","p (mbar)","T (degC)"']
    lines += [f"01.01.2009 00:{i % 60:02d}:00,{990 + i % 13},{(i * 7) % 23 - 5}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def data_overrides(option: str, csv_path: Path) -> list[str]:
    """The overrides a data (or experiment) option needs to compose on this machine, or a skip."""
    if option in ("csv", "csv_table"):
        return [f"data.source.path={csv_path}", "data.target=label", "data.drop=[id]"]
    if option in ("fashion_mnist", "fashion_mnist_cnn"):
        folder = write_tiny_idx_folder(csv_path.parent / "fashion_mnist")
        return [f"data.folder={folder}", "data.verify_md5=false", "data.num_workers=0"]
    if option in ("jena_climate", "jena_gru"):
        return [f"data.source.path={write_tiny_jena(csv_path.parent / 'jena.csv')}"]
    if option in ("fraud_oracle", "fraud_oracle_mlp"):
        if not FRAUD_ORACLE.is_file():
            pytest.skip(f"the real claims file {FRAUD_ORACLE} is absent")
        return [f"data.source.path={FRAUD_ORACLE}"]
    return []
