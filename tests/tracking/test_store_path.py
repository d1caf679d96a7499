"""Every store kept at a local path goes through one check: a path that cannot be created is one
line naming the part that is wrong, for the tracking store and the sweep's storage alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainer.errors import ConfigError
from trainer.sweep.storage import open_storage
from trainer.tracking.store_check import check_tracking_uri
from trainer.tracking.store_path import check_store_path

#: A filesystem that refuses new files even to root (this CI runs as root, which writes through
#: permission bits): what a read-only mount does to anyone.
SPECIAL = Path("/proc")


def _tracking_error(uri: str) -> str:
    with pytest.raises(ConfigError) as caught:
        check_tracking_uri(uri)
    return str(caught.value)


def _sweep_error(url: str) -> str:
    with pytest.raises(ConfigError) as caught:
        open_storage(url)
    return str(caught.value)


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("x")
    return path


def test_every_store_under_a_regular_file_names_the_file(
    blocker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    messages = {
        "tracking sqlite": _tracking_error(f"sqlite:///{blocker}/x/mlflow.db"),
        "tracking folder": _tracking_error(f"file://{blocker}/mlruns"),
        "sweep sqlite": _sweep_error(f"sqlite:///{blocker}/x/optuna.db"),
        "sweep journal": _sweep_error(f"journal:{blocker}/x/study.log"),
    }
    for where, message in messages.items():
        assert (
            f"lies under {str(blocker)!r}, which is a file, not a folder; pick a path in a folder." in message
        ), where
        assert "\n" not in message


@pytest.mark.skipif(not SPECIAL.is_dir(), reason="no /proc on this system")
def test_every_store_in_a_folder_that_refuses_files_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    messages = [
        _tracking_error(f"sqlite:///{SPECIAL}/mlflow.db"),
        _tracking_error(f"{SPECIAL}/mlruns"),
        _sweep_error(f"sqlite:///{SPECIAL}/optuna.db"),
        _sweep_error(f"journal:{SPECIAL}/study.log"),
    ]
    for message in messages:
        assert f"cannot be created: the folder {str(SPECIAL)!r} is not writable (" in message
        assert message.endswith("; pick a folder you can write to.")


def test_the_sweep_names_its_own_key(blocker: Path) -> None:
    assert _sweep_error(f"journal:{blocker}/study.log").startswith(
        f"sweep.storage='journal:{blocker}/study.log' "
    )


def test_a_sweep_storage_that_can_be_made_still_opens(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    storage = open_storage(f"journal:{tmp_path}/new/study.log")
    assert storage.get_all_studies() == []
    assert not [p for p in (tmp_path / "new").iterdir() if p.name.startswith(".trainer-write-check")]


def test_a_missing_folder_is_refused_with_the_command_to_make_it_when_asked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"is in a folder that does not exist .*mkdir -p {tmp_path}/a/b"):
        check_store_path(tmp_path / "a" / "b" / "x.db", key="k", value="v")
    check_store_path(tmp_path / "a" / "b" / "x.db", key="k", value="v", create_folders=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits: cannot be shown as root")
def test_a_read_only_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert "is not writable (Permission denied)" in _sweep_error(f"journal:{folder}/study.log")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("form", ["sqlite:///{}/mistyped/optuna.db", "journal:{}/mistyped/study.log"])
def test_a_sweep_storage_in_a_missing_folder_is_refused_not_made(tmp_path: Path, form: str) -> None:
    # A mistyped folder would otherwise hold a new, empty study: the sweep would start from trial 0.
    message = _sweep_error(form.format(tmp_path))
    assert f"is in a folder that does not exist ('{tmp_path}/mistyped')" in message
    assert f"mkdir -p {tmp_path}/mistyped" in message
    assert not (tmp_path / "mistyped").exists()
