"""The study's networks fitted in worker processes: the same results as one after another, the
first member's curves on the approach's run, workers stopped when the study stops."""

from __future__ import annotations

import os
import time
from pathlib import Path

import mlflow
import pandas as pd
import torch
from omegaconf import OmegaConf

from trainer.config.compose import compose_config
from trainer.fraud.member_fit import MemberJob
from trainer.fraud.member_pool import MIN_FITS_FOR_WORKERS, MemberPool, choose_workers
from trainer.fraud.study import run_study

from .conftest import study_overrides


def _study(tmp_path: Path, workers: int) -> pd.DataFrame:
    folder = tmp_path / f"workers{workers}"
    folder.mkdir()
    overrides = study_overrides(
        folder,
        "fraud.approaches=[weighted,smote,autoencoder]",
        "fraud.ensemble=2",
        "fraud.autoencoder.ensemble=2",
        f"fraud.workers={workers}",
        tracking_uri=f"sqlite:///{folder}/mlflow.db",
    )
    result = run_study(compose_config(overrides, config_name="fraud"), print_table=False)
    child = result.child_run_ids["weighted"]
    client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
    history = client.get_metric_history(child, "val/ap")
    # The first member's curve, replayed from the worker into the approach's run: one point a
    # validation, as a fit in the study's process logs it.
    assert len(history) >= 1
    assert client.get_run(child).data.params["epochs"].count(",") == 1  # both members' epochs
    return result.table


def test_two_workers_give_the_table_one_process_gives(tmp_path: Path) -> None:
    one, two = _study(tmp_path, 1), _study(tmp_path, 2)
    pd.testing.assert_frame_equal(one, two)
    assert set(one["selected_on"]) == {"val_ap", "normal_loss"}


def test_auto_takes_a_worker_per_core_but_none_for_a_few_fits_or_a_gpu() -> None:
    cores = len(os.sched_getaffinity(0))
    assert choose_workers("auto", jobs=MIN_FITS_FOR_WORKERS - 1) == 1
    assert choose_workers("auto", jobs=100) == cores
    assert choose_workers("auto", jobs=MIN_FITS_FOR_WORKERS) == min(cores, MIN_FITS_FOR_WORKERS)
    assert choose_workers(3, jobs=1) == 3
    assert choose_workers("auto", jobs=100, device="cuda") == 1  # one process keeps a GPU busy


def _slow_job(tmp_path: Path) -> MemberJob:
    cfg = compose_config(
        ["trainer.max_epochs=100000", "callbacks.progress=null", "logger=none"], config_name="fraud"
    ).cfg
    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    x = torch.randn(2000, 6)
    y = (x[:, 0] > 1.5).float()
    return MemberJob(
        kind="classifier",
        cfg=plain,  # type: ignore[arg-type]
        train=(x, y),
        val=(x[:500], y[:500]),
        seed=0,
        run_dir=tmp_path,
        patience=100000,  # never stops by itself
        monitor="val/ap",
        mode="max",
    )


def test_closing_the_pool_stops_a_fit_still_running(tmp_path: Path) -> None:
    pool = MemberPool(workers=2)
    pending = pool.submit(_slow_job(tmp_path))
    executor = pool._executor
    assert executor is not None
    deadline = time.monotonic() + 60
    while not pending.running() and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.2)
    pids = [p.pid for p in executor._processes.values()]  # type: ignore[attr-defined]
    assert pids and all(Path(f"/proc/{pid}").exists() for pid in pids)
    pool.close()  # what leaving the study's `with` does on Ctrl-C or an error
    # Gone from the system, exit status reaped (no zombie left behind).
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_an_approach_whose_fits_would_repeat_anothers_shares_them(tmp_path: Path) -> None:
    from trainer.fraud.network_approaches import classifier_jobs
    from trainer.fraud.study import load_study_data, split_config

    cfg, settings, resample = split_config(compose_config(study_overrides(tmp_path), config_name="fraud").cfg)
    data = load_study_data(cfg, settings, resample)
    first, first_params = classifier_jobs(data, "plain", tmp_path / "plain")
    again, again_params = classifier_jobs(data, "plain", tmp_path / "elsewhere")  # same rows, other folder
    weighted, weighted_params = classifier_jobs(data, "weighted", tmp_path / "weighted")
    data.queue("plain", first, first_params)
    data.queue("twin", again, again_params)
    data.queue("weighted", weighted, weighted_params)
    assert data.pending["twin"][1] is data.pending["plain"][1]  # the same pending fits
    assert data.pending["twin"][2]["networks_of"] == "plain"
    assert data.pending["weighted"][1] is not data.pending["plain"][1]  # other pos_weight: own fits
    assert "networks_of" not in data.pending["weighted"][2]


def test_a_jobs_rows_are_moved_to_shared_memory_before_the_pool_takes_it(tmp_path: Path) -> None:
    # The pool's feeder thread would otherwise move them while the study reads them.
    job = _slow_job(tmp_path)
    with MemberPool(workers=2) as pool:
        pending = pool.submit(job)
        assert all(t.is_shared() for t in (*job.train, *job.val))
        pending.cancel()  # type: ignore[union-attr]
