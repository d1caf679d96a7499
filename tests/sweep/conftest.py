"""Shared helpers: a tiny, fast trial config and real storages in tmp_path."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# The tests import their shared process helpers as `sweep_helpers` (tests/ is not a package).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def base(tmp_path: Path, template_db: Path) -> list[str]:
    """Overrides for tiny trials: 300 synthetic rows, 2 epochs, CPU, MLflow sqlite in tmp_path
    (a copy of the session's migrated store: making the tables would cost each test 1.6 s)."""
    shutil.copyfile(template_db, tmp_path / "mlflow.db")
    return [
        "data=synthetic_classification",
        "data.source.n_samples=300",
        "data.source.n_categorical=0",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        "logger.log_model=false",
        "logger.log_checkpoints=false",
        "logger.log_datasets=false",
        f"logger.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
        f"paths.runs_dir={tmp_path}/runs",
    ]


@pytest.fixture
def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/optuna.db"
