"""Thirty trials in one process leave nothing behind: no logging handlers, torch threads, open
files, threads or open MLflow runs accumulate, and the random state is the caller's."""

from __future__ import annotations

import io
import logging
import random
import threading
from pathlib import Path

import mlflow
import psutil
import pytest
import torch

from trainer.sweep.stages import run_sweep


def _handlers() -> int:
    loggers = [x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger)]
    return sum(len(lg.handlers) for lg in [logging.getLogger(), *loggers])


def _snapshot() -> dict[str, int]:
    return {
        "logging handlers": _handlers(),
        "torch threads": torch.get_num_threads(),
        "open files": psutil.Process().num_fds(),
        "threads": threading.active_count(),
    }


@pytest.mark.slow
def test_thirty_trials_in_one_process_leave_no_state_behind(tmp_path: Path) -> None:
    def sweep(n_trials: int) -> None:
        run_sweep(
            [
                "hparams_search=mlp",
                "hparams_search.params.optimizer.choices=[adam,momentum]",
                f"sweep.n_trials={n_trials}",
                "sweep.sampler=random",
                "sweep.pruner=none",
                "sweep.plots=false",
                f"sweep.storage=sqlite:///{tmp_path}/optuna.db",
                "sweep.study_name=leaks",
                "data=synthetic_classification",
                "data.source.n_samples=120",
                "data.source.n_categorical=0",
                "trainer.max_epochs=1",
                "trainer.accelerator=cpu",
                "callbacks.progress=null",
                "logger=csv",
                f"paths.runs_dir={tmp_path}/runs",
            ],
            stream=io.StringIO(),
        )

    sweep(3)  # warm up: imports, lazily opened files, the storage's connection
    random.seed(1234)
    before = _snapshot()
    expected_draw = random.Random(1234).random()
    sweep(33)  # the same study: 30 more trials
    after = _snapshot()
    assert after == before
    assert mlflow.active_run() is None
    assert random.random() == expected_draw  # trials seeded themselves, then gave the state back
    assert len(list((tmp_path / "runs").glob("*leaks_t0*"))) == 33
