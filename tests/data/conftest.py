"""Fixtures of the data tests: small CSV tables written into tmp_path, and the real claims file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FRAUD_ORACLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud_oracle.csv"

requires_fraud_oracle = pytest.mark.skipif(
    not FRAUD_ORACLE.is_file(), reason=f"the real claims file {FRAUD_ORACLE} is absent"
)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, list[str]], Path]:
    """``write_csv(name, lines)`` writes ``lines`` as a file in tmp_path and returns its path."""

    def write(name: str, lines: list[str]) -> Path:
        path = tmp_path / name
        path.write_text("".join(f"{line}\n" for line in lines))
        return path

    return write
