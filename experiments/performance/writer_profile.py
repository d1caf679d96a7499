
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from trainer.tracking.delivery import log_batch
from trainer.tracking.journal import Journal

tmp = Path(tempfile.mkdtemp())
uri = f"sqlite:///{tmp}/b.db"
c = MlflowClient(tracking_uri=uri)
e = c.create_experiment("x")
run = c.create_run(e).info.run_id
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
step = 0


def batch(n):
    global step
    out = []
    for _ in range(n):
        step += 1
        out.append(
            {
                "kind": "metric",
                "key": "train/loss_step",
                "value": 0.5 + step * 1e-6,
                "timestamp": int(time.time() * 1000),
                "step": step,
            }
        )
    return out


log_batch(c, run, batch(N))  # warm
j = Journal(tmp / "j.jsonl", {})
for label, fn in [
    ("log_batch", lambda b: log_batch(c, run, b)),
    ("journal.append", lambda b: j.append(b)),
    ("journal.mark", lambda b: j.mark("delivered", (r["seq"] for r in b))),
]:
    times = []
    for _i in range(5):
        b = batch(N)
        if label == "journal.mark":
            j.append(b)
        t = time.thread_time()
        fn(b)
        times.append(time.thread_time() - t)
    print(f"{label}: per point us: {[round(1e6 * x / N, 1) for x in times]}")
pr = cProfile.Profile()
bs = [batch(N) for _ in range(5)]
pr.enable()
for b in bs:
    log_batch(c, run, b)
pr.disable()
s = io.StringIO()
pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(45)
print(s.getvalue()[:9000])
s = io.StringIO()
pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(30)
print(s.getvalue()[:7000])
