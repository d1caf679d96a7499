"""``scripts/run_fraud_study.py``: one split can be rerun alone without losing the other's results."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_fraud_study.py"


@pytest.fixture
def study_script() -> ModuleType:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import run_fraud_study
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return run_fraud_study


def test_split_option_picks_one_split_and_keeps_the_overrides(study_script: ModuleType) -> None:
    time_title, random_title = study_script.SPLITS
    assert study_script.choose_splits(["--split", "time", "logger=none"]) == ([time_title], ["logger=none"])
    assert study_script.choose_splits(["--split=random"]) == ([random_title], [])
    assert study_script.choose_splits(["seed=3"]) == ([time_title, random_title], ["seed=3"])
    with pytest.raises(SystemExit, match="--split 'tiem' is not known; choose time or random"):
        study_script.choose_splits(["--split", "tiem"])


def test_previous_sections_are_read_back_by_split(
    study_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_title, random_title = study_script.SPLITS
    readme = tmp_path / "README.md"
    readme.write_text(
        f"intro\n{study_script.START}\n### Split: {time_title}\n\n| a |\n- t\n\n"
        f"### Split: {random_title}\n\n| b |\n- r\n\n{study_script.END}\noutro\n"
    )
    monkeypatch.setattr(study_script, "README", readme)
    sections = study_script.previous_sections()
    assert sections == {
        time_title: f"### Split: {time_title}\n\n| a |\n- t\n",
        random_title: f"### Split: {random_title}\n\n| b |\n- r\n",
    }
