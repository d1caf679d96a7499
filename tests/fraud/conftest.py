"""Fixtures of the fraud tests: a small generated claims table, real MLflow stores in tmp_path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

FRAUD_ORACLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud_oracle.csv"

#: Overrides that keep a study small and fast: 1,200 rows at 10% fraud, 3 epochs, one network per
#: approach, no progress bar.
FAST = [
    "data.source.n_samples=1200",
    "data.source.fraud_rate=0.1",
    "trainer.max_epochs=3",
    "trainer.accelerator=cpu",
    "callbacks.progress=null",
    "fraud.patience=2",
    "fraud.ensemble=1",  # one network per approach; test_tabular_embedding runs an ensemble
    "fraud.workers=1",  # fits in the test process; test_member_pool starts worker processes
    "fraud.explain.n_repeats=1",
    "fraud.references.hgb_max_iter=30",
    "fraud.references.isolation_forest_trees=30",
]


def study_overrides(tmp_path: Path, *extra: str, tracking_uri: str | None = None) -> list[str]:
    """FAST plus this test's runs folder and MLflow store (or no logger)."""
    logger = [f"logger.tracking_uri={tracking_uri}"] if tracking_uri else ["logger=none"]
    other_data = any(e.startswith("data=") for e in extra)  # the claims generator's keys do not apply
    fast = [o for o in FAST if not (other_data and o.startswith("data.source."))]
    return [*fast, f"paths.runs_dir={tmp_path / 'runs'}", *logger, *extra]


def imbalanced(n: int = 400, *, positives: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A numeric matrix whose minority rows sit apart from the majority."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = np.zeros(n)
    y[:positives] = 1
    x[:positives] += 2.0
    return x, y


def write_claims_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def store(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, object, str]:
    """``(uri, client, experiment_id)`` of a fresh store in tmp_path; the test runs from tmp_path."""
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    db = tmp_path / "mlflow.db"
    shutil.copyfile(template_db, db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("trainer", artifact_location=str(tmp_path / "artifacts"))
    return uri, client, experiment_id


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Run from tmp_path with one torch thread, and leave os.environ as found (MLflow sets MLFLOW_*)."""
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update(saved)
