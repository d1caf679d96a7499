"""MLflow's internals that ``tracking/mlflow_private.py`` relies on are still where it reaches them.

Each test exercises one of them on a real SQLite store in ``tmp_path``; when an MLflow upgrade
moved or changed one, the test fails with one line naming the installed MLflow version and the
internal, instead of the fast metric path failing (or silently turning off) in a user's run.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from trainer.tracking import mlflow_private, sql_metrics

from .conftest import Store

STAMP = 1_700_000_000_000
SRC = Path(__file__).resolve().parents[2] / "src" / "trainer"


@contextlib.contextmanager
def relied_on(what: str) -> Iterator[None]:
    """Turn an internal that moved (gone, renamed, new signature) into one loud failure."""
    try:
        yield
    except (AttributeError, ImportError, TypeError, KeyError) as exc:
        pytest.fail(
            f"MLflow {mlflow.__version__} moved {what} ({type(exc).__name__}: {exc}); update "
            "src/trainer/tracking/mlflow_private.py, or pin MLflow below this version.",
            pytrace=False,
        )


def test_the_client_shows_its_sql_store(sqlite_store: Store) -> None:
    with relied_on("MlflowClient._tracking_client.store"):
        sqlite_store.client._tracking_client.store  # noqa: B018 - the attribute itself is the check
    with relied_on("SqlAlchemyStore and its engine"):
        store = mlflow_private.sql_alchemy_store(sqlite_store.client)
        assert store is not None, f"MLflow {mlflow.__version__}: a sqlite client has no SqlAlchemyStore"
        assert mlflow_private.dialect_name(store) == "sqlite"
    assert sql_metrics.sql_store(sqlite_store.client) is store


def test_an_http_client_has_no_sql_store() -> None:
    from mlflow.tracking import MlflowClient

    with relied_on("MlflowClient._tracking_client.store"):
        client = MlflowClient(tracking_uri="http://127.0.0.1:9")  # nothing is contacted
        assert mlflow_private.sql_alchemy_store(client) is None


def test_the_run_row_and_latest_metrics_in_one_session(sqlite_store: Store) -> None:
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    store = mlflow_private.sql_alchemy_store(client)
    point = SimpleNamespace(key="loss", value=0.5, timestamp=STAMP, step=3, is_nan=False, run_uuid=run_id)
    internals = "SqlAlchemyStore.ManagedSessionMaker, _get_run, _check_run_is_active, SqlRun"
    with relied_on(internals), mlflow_private.write_session(store) as session:
        run = mlflow_private.active_run_row(store, session, run_id)
        # latest_metrics only: the update does not insert the point's history row.
        with relied_on("SqlAlchemyStore._update_latest_metrics_if_necessary"):
            mlflow_private.update_latest_metrics(store, [point], session)
        mlflow_private.close_run_row(run, status="FINISHED", end_time=STAMP + 1)
    info = client.get_run(run_id)
    assert info.data.metrics == {"loss": 0.5}
    assert (info.info.status, info.info.end_time) == ("FINISHED", STAMP + 1)


@pytest.mark.parametrize("deleted", [True, False])
def test_a_run_that_is_not_active_is_refused_with_mlflow_codes(sqlite_store: Store, deleted: bool) -> None:
    """The writer tells a refusal from an outage by these codes (``store_errors``)."""
    client = sqlite_store.client
    run_id = client.create_run(sqlite_store.experiment_id).info.run_id
    if deleted:
        client.delete_run(run_id)
    else:
        run_id = "0" * 32
    store = mlflow_private.sql_alchemy_store(client)
    internals = "SqlAlchemyStore._get_run, _check_run_is_active"
    with (
        relied_on(internals),
        pytest.raises(MlflowException) as refused,
        mlflow_private.write_session(store) as session,
    ):
        mlflow_private.active_run_row(store, session, run_id)
    expected = "INVALID_PARAMETER_VALUE" if deleted else "RESOURCE_DOES_NOT_EXIST"
    assert refused.value.error_code == expected, f"MLflow {mlflow.__version__} changed its error code"


def test_metric_values_and_names_as_mlflow_stores_them(sqlite_store: Store) -> None:
    store = mlflow_private.sql_alchemy_store(sqlite_store.client)
    with relied_on("SqlAlchemyStore.sanitize_metric_value"):
        is_nan, _ = mlflow_private.sanitize_metric_value(store, math.nan)
        not_nan, stored = mlflow_private.sanitize_metric_value(store, math.inf)
    assert is_nan and not not_nan and math.isfinite(stored)
    with relied_on("mlflow.store.tracking.dbmodels.models.SqlMetric"):
        columns = set(mlflow_private.metrics_table().columns.keys())
    assert columns == set(sql_metrics.COLUMNS), f"MLflow {mlflow.__version__}: metrics columns {columns}"
    with relied_on("mlflow.utils.validation._validate_metric"):
        mlflow_private.validate_metric("loss", 1.0, STAMP, 1)
        with pytest.raises(MlflowException) as refused:
            mlflow_private.validate_metric("bad key?", 1.0, STAMP, 1)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_dataset_becomes_its_entity() -> None:
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import Dataset

    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0.0, 1.0]})
    with relied_on("mlflow.data.dataset.Dataset._to_mlflow_entity"):
        entity = mlflow_private.dataset_entity(from_pandas(frame, name="toy-train", targets="y"))
    assert isinstance(entity, Dataset) and entity.name == "toy-train" and entity.digest


def test_disposing_the_engine_leaves_a_working_client(sqlite_store: Store) -> None:
    with relied_on("SqlAlchemyStore.engine"):
        mlflow_private.tracking_store(sqlite_store.client).engine  # noqa: B018 - the check
        mlflow_private.dispose_engine(sqlite_store.client)
    assert sqlite_store.client.get_experiment(sqlite_store.experiment_id) is not None


def _save_echo(path: Path, pins: list[str]) -> None:
    """Save a pyfunc model that returns its input, with ``pins`` as its requirements."""

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input

    mlflow.pyfunc.save_model(path=str(path), python_model=Echo(), pip_requirements=pins)


def test_pinned_requirements_are_saved_without_scanning_every_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The package scan (0.75 s a process) is skipped, the pins are written and still checked,
    and the map is left unscanned for whoever needs it next."""
    import importlib_metadata
    import numpy

    with relied_on("mlflow.utils.requirements_utils._MODULES_TO_PACKAGES"):
        from mlflow.utils import requirements_utils

        monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
        monkeypatch.setattr(requirements_utils, "_PACKAGES_TO_MODULES", None)

    def scan() -> dict[str, list[str]]:
        raise AssertionError("MLflow scanned every installed package")

    monkeypatch.setattr(importlib_metadata, "packages_distributions", scan)
    pins = [f"numpy=={numpy.__version__}", "pandas==0.0.1"]  # pandas: a pin the environment breaks
    with (
        caplog.at_level("WARNING", logger="mlflow"),
        mlflow_private.pinned_requirements_without_package_scan(),
    ):
        _save_echo(tmp_path / "model", pins)
    written = (tmp_path / "model" / "requirements.txt").read_text().split()
    assert set(pins) <= set(written), written
    mismatch = [r.getMessage() for r in caplog.records if "mismatches" in r.getMessage()]
    assert mismatch and "pandas (current: " in mismatch[0] and "numpy" not in mismatch[0], mismatch
    assert requirements_utils._MODULES_TO_PACKAGES is None and requirements_utils._PACKAGES_TO_MODULES is None
    # Outside the block MLflow scans as it always did (the guard above says so when it does).
    with pytest.raises(AssertionError, match="scanned every installed package"):
        requirements_utils._init_packages_to_modules_map()


def test_no_other_module_reaches_into_mlflow() -> None:
    """The private reach stays in one file: an ``_``-prefixed MLflow name anywhere else is a leak."""
    leak = re.compile(
        r"\._tracking_client|\bstore\._\w|\._to_mlflow_entity|\.ManagedSessionMaker"
        r"|from mlflow\S* import .*\b_\w|mlflow\.store\.tracking\.(dbmodels|sqlalchemy_store)"
    )
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "mlflow_private.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if leak.search(line)
    ]
    assert found == []
