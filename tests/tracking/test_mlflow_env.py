"""MLflow's client settings for one run: set while it runs, a user's own choice kept, then put back."""

from __future__ import annotations

import os

import pytest

from trainer.tracking.mlflow_env import MlflowEnvironment

NAMES = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
)


def test_a_run_silences_mlflows_own_view_run_lines_and_puts_everything_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "99")  # the user's own choice
    environment = MlflowEnvironment()
    environment.apply(request_timeout=5)
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "99"
    environment.restore()
    assert [name for name in NAMES if name in os.environ] == ["MLFLOW_HTTP_REQUEST_TIMEOUT"]
