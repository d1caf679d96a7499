"""Settings of the whole suite."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

# A suite started in the background (`make test &`, nohup, some CI runners) inherits SIGINT
# *ignored*, and every process a test starts inherits that too: a test that presses Ctrl-C on a
# `trainer sweep` would see it ignored outside `fit` and the sweep run on. Python's own Ctrl-C
# handler here makes the processes the tests start get the default disposition, as at a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config: object) -> None:
    """Under pytest-xdist (`make test` runs the suite in parallel processes), each worker and
    every process a test starts uses one torch/OpenMP thread: on 2 cores, two workers of two
    threads each only fight over the cores.

    Collecting imports every test module, and with them torch, MLflow, Optuna and scikit-learn:
    the collector is paused meanwhile and the result frozen once collection is done, as the
    ``trainer`` program does while it starts (``trainer.startup_gc``)."""
    from trainer import startup_gc

    startup_gc.pause()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")


def pytest_collection_finish(session: pytest.Session) -> None:
    """The modules and test items collected: frozen, and collection back on for the tests."""
    from trainer import startup_gc

    startup_gc.settle()


@pytest.fixture(scope="session", autouse=True)
def _suite_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite's own cache folder (``trainer.tracking.store_template`` keeps its migrated empty
    store there), shared by the xdist workers and every process a test starts, and never the
    user's ``~/.cache``."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # pytest-N/, above each worker's popen-gwN/
    os.environ["TRAINER_CACHE_DIR"] = str(shared / "trainer-cache")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with every migration applied, made once per test process.

    Creating MLflow's tables costs about 1.6 s of CPU; a test that needs an empty store copies
    this file into its folder instead. Tests about creating a store make their own.
    """
    from mlflow.tracking import MlflowClient

    from trainer.tracking.mlflow_private import dispose_engine

    path = tmp_path_factory.mktemp("template") / "template.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    client.search_experiments()  # creates and migrates the tables
    dispose_engine(client)  # no open connection while the file is copied
    return path


@pytest.fixture(scope="session")
def one_epoch_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real one-epoch run of the default config (the ReLU MLP on breast_cancer, 30 features,
    binary) with its checkpoints and no tracking, made once per test process for the tests that
    read a finished run (best and last hold the same weights). Read it, never change it."""
    from trainer.config.compose import compose_config
    from trainer.train import train

    base = tmp_path_factory.mktemp("one_epoch_run")
    overrides = [
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "logger=none",
        "callbacks.progress=null",
        f"paths.runs_dir={base / 'runs'}",
    ]
    return train(compose_config(overrides))
