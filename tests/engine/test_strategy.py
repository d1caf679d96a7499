"""The strategy: one process runs no collective at all; the loop asks it, never the world size."""

from __future__ import annotations

import torch

from trainer.engine import Trainer, distributed
from trainer.engine.callbacks import ModelCheckpoint
from trainer.engine.distributed import World
from trainer.engine.loss_watch import LossWatch
from trainer.engine.preemption import Preemption
from trainer.engine.strategy import SingleProcessStrategy, strategy_for

CPU = torch.device("cpu")
COLLECTIVES = (
    "agree_max",
    "mean_across",
    "gather_evaluation",
    "broadcast_buffers",
    "read_on_rank_zero",
    "broadcast_object",
    "barrier",
    "data_parallel",
    "init_process_group",
)


def test_one_process_gets_the_single_process_strategy():
    strategy = strategy_for(World(), CPU)
    assert isinstance(strategy, SingleProcessStrategy)
    assert not strategy.distributed and strategy.is_rank_zero and strategy.device == CPU


def test_the_single_process_strategy_passes_everything_through(module):
    strategy = SingleProcessStrategy(CPU)
    training = module("binary")
    assert strategy.wrap(training) == training.training_step
    assert strategy.no_backward_sync(True) is strategy.no_backward_sync(False)  # one shared nullcontext
    tensor = torch.ones(2)
    assert strategy.reduce_mean(tensor) is tensor
    rows = (torch.ones(1), torch.zeros(1), 2.0, 1)
    assert strategy.gather_evaluation(rows) is rows
    loader = [(torch.ones(1), torch.zeros(1))]
    assert strategy.shard(loader, "train") is loader
    assert strategy.read_on_rank_zero(lambda: "read") == "read"


def test_the_single_process_strategy_reads_the_clock_and_leaves_signals_to_the_handler():
    strategy = SingleProcessStrategy(CPU)
    preemption = Preemption()
    preemption.received = 15  # recorded, not acted on: only the handler sets signum in one process
    strategy.agree_to_stop(preemption, None)
    assert preemption.signum == 0
    assert not strategy.out_of_time(None)
    assert strategy.out_of_time(0.0)  # a deadline long past


def test_the_single_process_strategy_polls_the_loss_watch_as_it_is():
    watch = LossWatch(CPU, sync_every=1, accumulate=1, eager=False)
    watch.start_epoch(0)
    watch.observe(torch.tensor(float("nan")), 0)
    bad = SingleProcessStrategy(CPU).poll_loss(watch, None)
    assert bad is not None and bad.here and bad.batch_idx == 0


def test_a_one_process_fit_test_and_resume_run_no_collective(datamodule, module, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a collective ran in one process")

    for name in COLLECTIVES:
        monkeypatch.setattr(distributed, name, refuse)
    callbacks = [ModelCheckpoint(dirpath=str(tmp_path), monitor="val/loss")]
    trainer = Trainer(
        accelerator="cpu", max_epochs=1, callbacks=callbacks, default_root_dir=tmp_path, max_time=60.0
    )
    trainer.fit(module("binary"), datamodule("binary"))
    trainer.test(module("binary"), datamodule("binary"), ckpt_path="best")
    trainer.predict(module("binary"), datamodule("binary"))
    resumed = Trainer(accelerator="cpu", max_epochs=2, default_root_dir=tmp_path)
    resumed.fit(module("binary"), datamodule("binary"), ckpt_path=tmp_path / "last.ckpt")
    assert resumed.current_epoch == 2
