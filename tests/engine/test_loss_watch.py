"""LossWatch: eager on CPU, deferred (recorded on the device, read every n steps) on accelerators."""

from __future__ import annotations

import math

import torch

from trainer.engine.loss_watch import LossWatch

CPU = torch.device("cpu")


def test_eager_watch_reports_the_bad_batch_at_once_with_its_step() -> None:
    watch = LossWatch(CPU, sync_every=10, accumulate=2)
    watch.start_epoch(global_step=7)
    assert watch.observe(torch.tensor(0.5), 0) is None
    bad = watch.observe(torch.tensor(float("nan")), 3)
    assert bad is not None and math.isnan(bad.value)
    assert (bad.batch_idx, bad.step) == (3, 7 + 3 // 2 + 1)


def test_deferred_watch_keeps_the_first_bad_batch_and_reads_only_when_due() -> None:
    watch = LossWatch(CPU, sync_every=4, accumulate=1, eager=False)
    watch.start_epoch(global_step=0)
    assert watch.observe(torch.tensor(1.0), 0) is None
    assert watch.observe(torch.tensor(float("inf")), 1) is None  # recorded, not read
    assert watch.observe(torch.tensor(float("nan")), 2) is None  # a later bad batch is not the first
    assert watch.poll(global_step=3) is None  # not due yet: no host read
    bad = watch.poll(global_step=4)
    assert bad is not None and bad.batch_idx == 1 and bad.step == 2 and math.isinf(bad.value)
    assert watch.poll() is not None  # a forced read (end of epoch) sees it too


def test_deferred_watch_is_reset_each_epoch_and_quiet_on_finite_losses() -> None:
    watch = LossWatch(CPU, sync_every=2, accumulate=1, eager=False)
    watch.start_epoch(global_step=0)
    watch.observe(torch.tensor(float("nan")), 0)
    assert watch.poll() is not None
    watch.start_epoch(global_step=5)
    for i in range(4):
        watch.observe(torch.tensor(0.1 * i), i)
    assert watch.poll() is None
