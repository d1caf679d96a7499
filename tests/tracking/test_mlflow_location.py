"""What a command prints about its MLflow run: the exact ``mlflow ui`` command for a local store,
and the run's address in the training view."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.tracking.mlflow_location import mlflow_location_lines, run_url, ui_address


def lines(uri: str, **kwargs: object) -> list[str]:
    args: dict[str, object] = {
        "safe_uri": uri,
        "run_id": "abc",
        "experiment_id": "7",
        "experiment_name": "trainer",
        "undelivered": 0,
        "journal_path": None,
        "run_dir": None,
    }
    return mlflow_location_lines(**{**args, **kwargs})  # type: ignore[arg-type]


def test_a_local_store_prints_the_exact_ui_command_then_the_run_address() -> None:
    assert lines("sqlite:////data/team/mlflow.db") == [
        "MLflow run abc in experiment 'trainer' at sqlite:////data/team/mlflow.db",
        "browse it: mlflow ui --backend-store-uri sqlite:////data/team/mlflow.db",
        "open: http://127.0.0.1:5000/#/experiments/7/runs/abc?workflowType=machine_learning",
    ]


def test_a_server_prints_its_own_address_without_credentials() -> None:
    printed = lines("http://user:***@mlflow.example:8080/prefix/")
    assert printed[-1] == (
        "open: http://mlflow.example:8080/prefix/#/experiments/7/runs/abc?workflowType=machine_learning"
    )
    assert len(printed) == 2


def test_a_store_that_never_answered_names_the_server_and_no_run_address() -> None:
    printed = lines("http://127.0.0.1:5000", run_id=None, experiment_id=None)
    assert printed[-1] == "browse it: open http://127.0.0.1:5000 in a browser"
    assert not any(line.startswith("open: ") for line in printed)


def test_waiting_records_say_how_to_send_them(tmp_path: Path) -> None:
    printed = lines("http://127.0.0.1:1", undelivered=3, journal_path=tmp_path / "j", run_dir=tmp_path)
    assert printed == [
        f"MLflow did not get 3 records: they wait in {tmp_path / 'j'}",
        f"send them when the server is back: trainer upload {tmp_path}",
    ]


def test_a_relative_sqlite_store_is_named_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        lines("sqlite:///mlflow.db")[1]
        == f"browse it: mlflow ui --backend-store-uri sqlite:///{tmp_path}/mlflow.db"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("https://u:p@host/", "https://host"),
        ("sqlite:///mlflow.db", "http://127.0.0.1:5000"),
        ("postgresql://u:***@db:5432/mlflow", "http://127.0.0.1:5000"),
    ],
)
def test_ui_address(uri: str, expected: str) -> None:
    assert ui_address(uri) == expected
    assert run_url(expected, "1", "r").startswith(f"{expected}/#/experiments/1/runs/r?")


@pytest.mark.parametrize(
    ("run_name", "expected"),
    [
        ("2026-12-07_mlp-adam-lr_0.001", "2026-12-07_mlp-adam-lr_0_001"),
        ("sweep a/b: 'x' 5%", "sweep a_b_ _x_ 5_"),
        ("  ", "model"),
    ],
)
def test_a_logged_model_is_named_after_its_run_in_a_name_mlflow_takes(run_name: str, expected: str) -> None:
    from mlflow.utils.validation import _validate_logged_model_name

    from trainer.tracking.delivery import logged_model_name

    assert logged_model_name(run_name) == expected
    _validate_logged_model_name(expected)  # raises on a name MLflow refuses
