"""MLflowLogger's fixed costs per run on a SQLite store: start(), the run's opening, finalize().

Each run: start(), wait until the run is open, POINTS metric points (one per step), finalize(),
then, for scale, one bare commit (``set_tag``), ``create_run`` and ``set_terminated`` through
``MlflowClient``. ``flush_interval`` is long, so finalize() delivers all POINTS points: the
largest tail a run can leave at its end with the default interval (one second at ~1,300 steps
a second). Medians of N runs after one warm-up run.

    .venv/bin/python experiments/performance/logger_fixed_costs.py [N] [POINTS]
    PYTHONPATH=<a checkout of the code before>/src .venv/bin/python ... # the same for old code
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from trainer.tracking.mlflow_logger import MLflowLogger

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 9
POINTS = int(sys.argv[2]) if len(sys.argv) > 2 else 1300

tmp = Path(tempfile.mkdtemp())
uri = f"sqlite:///{tmp}/store.db"
client = MlflowClient(tracking_uri=uri)
experiment = client.create_experiment("fixed-costs")
times: dict[str, list[float]] = {
    k: [] for k in ("start()", "opening", "finalize()", "commit", "create_run", "set_terminated")
}
for i in range(RUNS + 1):
    logger = MLflowLogger(
        tracking_uri=uri,
        experiment_name="fixed-costs",
        log_model=False,
        log_datasets=False,
        log_checkpoints=False,
        flush_interval=3600.0,
    )
    t0 = time.perf_counter()
    logger.start(run_name=f"run-{i}", run_dir=tmp / f"run-{i}")
    t1 = time.perf_counter()
    run_id = logger.run_id  # start() opened the run: ~0 here (a threaded opening was tried, reverted)
    t2 = time.perf_counter()
    for step in range(POINTS):
        logger.log_metrics({"train/loss_step": 1.0 / (step + 1)}, step=step)
    t3 = time.perf_counter()
    logger.finalize("FINISHED")
    t4 = time.perf_counter()
    assert run_id and client.get_run(run_id).info.status == "FINISHED"
    t5 = time.perf_counter()
    client.set_tag(run_id, "x", str(i))
    t6 = time.perf_counter()
    other = client.create_run(experiment).info.run_id
    t7 = time.perf_counter()
    client.set_terminated(other)
    t8 = time.perf_counter()
    if i:  # the first run is a warm-up
        for key, seconds in zip(times, (t1 - t0, t2 - t1, t4 - t3, t6 - t5, t7 - t6, t8 - t7), strict=True):
            times[key].append(seconds)
print(f"{RUNS} runs, {POINTS} points delivered by finalize()")
for key, values in times.items():
    print(
        f"{key:15} median {1000 * statistics.median(values):6.1f} ms  "
        f"(min {1000 * min(values):6.1f}, max {1000 * max(values):6.1f})"
    )
