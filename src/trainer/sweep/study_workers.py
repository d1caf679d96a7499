"""Worker processes: ``sweep.n_jobs=N`` starts N processes on this machine that share one study
through its storage, each running the same :class:`~trainer.sweep.study_loop.TrialLoop` with
``torch`` threads set so that together they do not oversubscribe the cores. The study and the
parent run exist before any worker starts."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from typing import Any

from trainer.config.compose import ENV_CONF_DIR, conf_dir
from trainer.errors import UserError
from trainer.interrupts import safe_interrupts
from trainer.sweep.report import LiveReporter
from trainer.sweep.settings import SweepSettings
from trainer.sweep.space import SearchSpace, parse_space
from trainer.sweep.study_factory import create_study, quiet_optuna
from trainer.sweep.study_loop import TrialLoop
from trainer.sweep.trial_budget import effective_n_trials
from trainer.sweep.trial_objective import TrialObjective

log = logging.getLogger(__name__)


def run_workers(
    settings: SweepSettings, space: SearchSpace, base_overrides: Sequence[str], parent_id: str | None
) -> None:
    """Start ``settings.n_jobs`` worker processes on the study and wait for them all."""
    context = multiprocessing.get_context("spawn")  # fork after torch threads start can deadlock
    payload = {
        "settings": settings.to_dict(),
        "space": space.to_dict(),
        "base_overrides": list(base_overrides),
        "parent_run_id": parent_id,
        "conf_dir": str(conf_dir()),
        "timeout": settings.timeout,
    }
    workers = [
        context.Process(target=worker_main, args=(payload, index), name=f"sweep-worker-{index}")
        for index in range(settings.n_jobs)
    ]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join()
    except KeyboardInterrupt:
        for worker in workers:
            worker.terminate()
        raise
    failed = [w.name for w in workers if w.exitcode not in (0, None)]
    if failed:
        log.warning("Sweep workers %s exited with an error; see their output above.", ", ".join(failed))


def worker_main(payload: dict[str, Any], index: int) -> None:
    """Entry point of one worker process: join the study and run trials until its budget."""
    import torch

    os.environ.setdefault(ENV_CONF_DIR, payload["conf_dir"])
    settings = SweepSettings(
        **{
            **payload["settings"],
            "metrics": tuple(payload["settings"]["metrics"]),
            "directions": tuple(payload["settings"]["directions"]),
        }
    )
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.n_jobs))
    space = parse_space(payload["space"])
    with quiet_optuna():
        study = create_study(settings, space, worker=index + 1)
    deadline = time.monotonic() + payload["timeout"] if payload["timeout"] else None
    reporter = LiveReporter(
        f"{settings.study_name} w{index}",
        n_trials=effective_n_trials(settings, space),
        metrics=settings.metrics,
        n_jobs=settings.n_jobs,
    )
    try:
        with quiet_optuna(), safe_interrupts():  # a Ctrl-C never cuts a storage write short
            objective = TrialObjective(
                study,
                settings=settings,
                space=space,
                base_overrides=payload["base_overrides"],
                parent_run_id=payload["parent_run_id"],
            )
            TrialLoop(objective, deadline=deadline, reporter=reporter).run()
    except UserError as exc:
        print(f"Worker {index}: {exc}", flush=True)
        raise SystemExit(2) from None
