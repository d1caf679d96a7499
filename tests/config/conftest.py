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


def data_overrides(option: str, csv_path: Path) -> list[str]:
    """The overrides a data (or experiment) option needs to compose on this machine, or a skip."""
    if option in ("csv", "csv_table"):
        return [f"data.source.path={csv_path}", "data.target=label", "data.drop=[id]"]
    if option in ("fraud_oracle", "fraud_oracle_mlp"):
        if not FRAUD_ORACLE.is_file():
            pytest.skip(f"the real claims file {FRAUD_ORACLE} is absent")
        return [f"data.source.path={FRAUD_ORACLE}"]
    return []
