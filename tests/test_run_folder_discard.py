"""A mistake found before anything ran leaves nothing behind: the run folder goes, and so does the
``runs/`` folder the command made for it; folders that were there before stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.cli import main
from trainer.tracked_run import RunFolder


def test_discarding_a_first_run_removes_the_runs_folder_it_made(tmp_path: Path) -> None:
    folder = RunFolder.open(chosen=None, runs_dir=tmp_path / "deep" / "runs", run_name="first")
    folder.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_runs_folder_that_was_there_or_holds_another_run_stays(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    RunFolder.open(chosen=None, runs_dir=tmp_path / "runs", run_name="a").discard()
    assert (tmp_path / "runs").is_dir()

    fresh = tmp_path / "fresh"
    first = RunFolder.open(chosen=None, runs_dir=fresh, run_name="one")
    second = RunFolder.open(chosen=None, runs_dir=fresh, run_name="two")
    first.discard()
    assert [p.name for p in fresh.iterdir()] == [second.path.name], "another run's folder is never touched"


def test_a_chosen_folder_goes_with_the_parents_made_for_it(tmp_path: Path) -> None:
    RunFolder.open(chosen=tmp_path / "a" / "b" / "run", runs_dir=tmp_path / "runs", run_name="x").discard()
    assert list(tmp_path.iterdir()) == []


def test_a_config_mistake_found_while_building_leaves_no_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    status = main(["train", "model.activation=bogus", "logger=none", f"paths.runs_dir={tmp_path / 'runs'}"])
    assert status == 2
    assert "model.activation='bogus' is not known" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
