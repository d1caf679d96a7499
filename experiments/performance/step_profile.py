# ruff: noqa: E402, E501  (a measurement script, kept as it was run)
"""Where our Trainer's per-step time over a hand loop goes: Linear 32->1, batch 32, CPU, one thread."""

import contextlib
import cProfile
import functools
import io
import pstats
import statistics
import time
import timeit

import torch
from torch.nn import functional as F

torch.set_num_threads(1)
from trainer.data.batches import TensorBatches
from trainer.engine.device import move_to_device
from trainer.engine.loss_watch import LossWatch
from trainer.engine.module import TrainingModule
from trainer.engine.trainer import Trainer
from trainer.tasks.binary import BinaryObjective

ROWS, BATCH, EPOCHS = 32 * 500, 32, 4
g = torch.Generator().manual_seed(0)
X = torch.randn(ROWS, 32, generator=g)
Y = (X[:, 0] > 0).float()
STEPS = ROWS // BATCH * EPOCHS


class DM:
    def train_dataloader(self):
        return TensorBatches(X, Y, batch_size=BATCH, shuffle=True, seed=0)

    def val_dataloader(self):
        return None


def make(foreach=None, fused=None):
    torch.manual_seed(0)
    m = torch.nn.Linear(32, 1)
    opt = functools.partial(torch.optim.Adam, lr=1e-3, foreach=foreach, fused=fused)
    return m, opt


def run_trainer(prof=None, **kw):
    m, opt = make(**kw)
    mod = TrainingModule(m, BinaryObjective(), optimizer_factory=opt)
    t = Trainer(accelerator="cpu", max_epochs=EPOCHS, callbacks=[], logger=None, log_every_n_steps=10**9)
    s = time.perf_counter()
    if prof:
        prof.enable()
    t.fit(mod, DM())
    if prof:
        prof.disable()
    return time.perf_counter() - s


def run_raw(prof=None, **kw):
    m, opt = make(**kw)
    s = time.perf_counter()
    if prof:
        prof.enable()
    o = opt(m.parameters())
    b = DM().train_dataloader()
    for e in range(EPOCHS):
        b.set_epoch(e)
        ls = torch.zeros(())
        m.train()
        for x, y in b:
            loss = F.binary_cross_entropy_with_logits(m(x).reshape(-1), y.reshape(-1))
            loss.backward()
            o.step()
            o.zero_grad(set_to_none=True)
            ls += loss.detach()
        float(ls)
    if prof:
        prof.disable()
    return time.perf_counter() - s


def compare(label, **kw):
    run_trainer(**kw)
    run_raw(**kw)
    t, r = [], []
    for i in range(7):
        for f, out in ((run_trainer, t), (run_raw, r)) if i % 2 == 0 else ((run_raw, r), (run_trainer, t)):
            out.append(f(**kw))
    mt, mr = statistics.median(t), statistics.median(r)
    print(
        f"{label}: trainer {1e6 * mt / STEPS:.1f} us/step (runs {[round(1e6 * x / STEPS, 1) for x in t]}), raw {1e6 * mr / STEPS:.1f} us/step "
        f"(runs {[round(1e6 * x / STEPS, 1) for x in r]}); difference {1e6 * (mt - mr) / STEPS:.1f} us/step, ratio {mt / mr:.3f}"
    )
    return mt, mr


print(f"torch {torch.__version__}, Linear(32,1), batch {BATCH}, {STEPS} steps, 1 thread, no validation")
compare("Adam default (foreach=None)")
compare("Adam foreach=False", foreach=False)
compare("Adam fused=True", fused=True)

# -------- isolated costs of what the Trainer does per step and the hand loop does not
m, opt = make()
o = opt(m.parameters())
mod = TrainingModule(m, BinaryObjective(), optimizer_factory=opt)
x, y = X[:BATCH], Y[:BATCH]
loss = F.binary_cross_entropy_with_logits(m(x).reshape(-1), y)
watch = LossWatch(torch.device("cpu"), sync_every=10**9, accumulate=1)
scaler = torch.amp.GradScaler("cpu", enabled=False)
tr = Trainer(accelerator="cpu", callbacks=[], logger=None)
dev = torch.device("cpu")
items = {
    "watch.observe (torch.isfinite + bool)": lambda: watch.observe(loss, 0),
    "  bool(torch.isfinite(loss))": lambda: bool(torch.isfinite(loss)),
    "  math.isfinite(loss.item())": lambda: __import__("math").isfinite(loss.item()),
    "move_to_device((x, y), cpu)": lambda: move_to_device((x, y), dev),
    "grad_scaler.scale(loss) (disabled)": lambda: scaler.scale(loss),
    "grad_scaler.is_enabled()": lambda: scaler.is_enabled(),
    "autocast nullcontext enter/exit": lambda: contextlib.nullcontext().__enter__(),
    "module.training_step vs direct loss (extra)": None,
    "_step_scheduler('step', {}) (no schedule)": lambda: tr._step_scheduler("step", {}),
    "_call('on_train_batch_end') (no callbacks)": lambda: tr._call("on_train_batch_end", mod, loss),
    "_reached_limits (time.monotonic)": lambda: tr._reached_limits(0.0),
    "watch.poll(step)": lambda: watch.poll(5),
    "global_step % log_every check": lambda: tr.global_step % tr.log_every_n_steps == 0,
    "loss_sum += loss.detach() (both do it)": None,
}
n = 20000
direct = (
    timeit.timeit(lambda: F.binary_cross_entropy_with_logits(m(x).reshape(-1), y.reshape(-1)), number=n) / n
)
step = timeit.timeit(lambda: mod.training_step((x, y)), number=n) / n
print(f"\nisolated costs (us per call, median of 5 x {n}):")
for name, fn in items.items():
    if fn is None:
        if name.startswith("module"):
            print(
                f"  {name:50s} {1e6 * (step - direct):6.2f}  (training_step {1e6 * step:.2f} vs direct {1e6 * direct:.2f})"
            )
        continue
    best = statistics.median(timeit.timeit(fn, number=n) / n for _ in range(5))
    print(f"  {name:50s} {1e6 * best:6.2f}")

# -------- cProfile: tottime of the Trainer's own functions
p = cProfile.Profile()
run_trainer(p)
s = io.StringIO()
st = pstats.Stats(p, stream=s)
st.sort_stats("tottime").print_stats(30)
print(s.getvalue()[:6000])
p2 = cProfile.Profile()
run_raw(p2)
s = io.StringIO()
pstats.Stats(p2, stream=s).sort_stats("tottime").print_stats(15)
print(s.getvalue()[:3500])
