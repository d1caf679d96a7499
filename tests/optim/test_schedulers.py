"""Each learning-rate schedule, built by its factory on a real optimizer, follows its formula."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.optim import lr_scheduler

from trainer.errors import ConfigError
from trainer.optim import schedulers
from trainer.optim.schedule import SchedulerSpec, TrainingPlan

CONF = Path(__file__).resolve().parents[2] / "conf"
LR0 = 0.1
PLAN = TrainingPlan(max_epochs=10, steps_per_epoch=20)


def _sgd(lr: float = LR0, momentum: float = 0.0) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(3))], lr=lr, momentum=momentum)


def _lrs(spec: SchedulerSpec, steps: int) -> list[float]:
    """The rate in force at t = 0, 1, ..., steps - 1 (t = scheduler steps taken so far)."""
    optimizer = spec.scheduler.optimizer
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        spec.scheduler.step()
    return rates


def _assert_follows(spec: SchedulerSpec, formula: Callable[[int], float], steps: int) -> None:
    rates = _lrs(spec, steps)
    assert rates == pytest.approx([formula(t) for t in range(steps)], rel=1e-9, abs=1e-12)


def test_training_plan_total_steps() -> None:
    assert PLAN.total_steps == 200
    assert TrainingPlan(max_epochs=0, steps_per_epoch=5).total_steps == 1  # never 0: 1cycle needs one


def test_scheduler_spec_defaults() -> None:
    spec = SchedulerSpec(scheduler=None)
    assert (spec.interval, spec.monitor) == ("epoch", None)


def test_piecewise_multiplies_by_gamma_at_each_milestone_passed() -> None:
    spec = schedulers.piecewise(_sgd(), PLAN, milestones=[6, 3], gamma=0.5)  # order does not matter
    assert isinstance(spec.scheduler, lr_scheduler.LRScheduler)
    assert (spec.interval, spec.monitor) == ("epoch", None)
    _assert_follows(spec, lambda t: LR0 * 0.5 ** sum(m <= t for m in (3, 6)), 10)


def test_piecewise_values_at_the_milestones() -> None:
    rates = _lrs(schedulers.piecewise(_sgd(), PLAN, milestones=[2, 4], gamma=0.1), 6)
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_exponential_drops_tenfold_every_s() -> None:
    spec = schedulers.exponential(_sgd(), PLAN, s=4.0)
    assert (spec.interval, spec.monitor) == ("epoch", None)
    _assert_follows(spec, lambda t: LR0 * 0.1 ** (t / 4.0), 13)
    assert _lrs(schedulers.exponential(_sgd(), PLAN, s=4.0), 9)[4::4] == pytest.approx([0.01, 0.001])


def test_power_schedule() -> None:
    spec = schedulers.power(_sgd(), PLAN, s=5.0, c=2.0)
    assert (spec.interval, spec.monitor) == ("epoch", None)
    _assert_follows(spec, lambda t: LR0 / (1 + t / 5.0) ** 2.0, 12)
    assert _lrs(schedulers.power(_sgd(), PLAN, s=5.0, c=1.0), 11)[10] == pytest.approx(LR0 / 3)


@pytest.mark.parametrize("factory", [schedulers.piecewise, schedulers.exponential, schedulers.power])
def test_step_interval_is_passed_through(factory: Callable[..., SchedulerSpec]) -> None:
    assert factory(_sgd(), PLAN, interval="step").interval == "step"


def test_performance_halves_after_patience_non_improving_values() -> None:
    spec = schedulers.performance(_sgd(), PLAN, factor=0.5, patience=2, monitor="val/ap", mode="min")
    assert isinstance(spec.scheduler, lr_scheduler.ReduceLROnPlateau)
    assert (spec.interval, spec.monitor) == ("epoch", "val/ap")
    optimizer = spec.scheduler.optimizer
    rates = []
    # torch's patience: that many non-improving values are tolerated, the next one cuts the rate.
    for value in [1.0, 0.8, 0.8, 0.9, 0.85, 0.7, 0.75, 0.75, 0.75, 0.8, 0.8, 0.8]:
        spec.scheduler.step(value)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125])


def test_performance_in_max_mode_keeps_the_rate_while_the_metric_rises() -> None:
    spec = schedulers.performance(_sgd(), PLAN, mode="max", factor=0.1, patience=0)
    for value in [0.5, 0.6, 0.7, 0.8]:
        spec.scheduler.step(value)
    assert spec.scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(LR0)
    spec.scheduler.step(0.79)  # a drop, with no patience
    assert spec.scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_performance_never_goes_below_min_lr() -> None:
    spec = schedulers.performance(_sgd(), PLAN, factor=0.1, patience=0, min_lr=0.005)
    for _ in range(6):
        spec.scheduler.step(1.0)
    assert spec.scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)


def test_performance_defaults_watch_the_validation_loss() -> None:
    spec = schedulers.performance(_sgd(), PLAN)
    assert (spec.interval, spec.monitor) == ("epoch", "val/loss")


def test_onecycle_peaks_at_max_lr_near_pct_start_and_ends_far_below_the_start() -> None:
    plan = TrainingPlan(max_epochs=5, steps_per_epoch=20)
    spec = schedulers.onecycle(_sgd(), plan, max_lr=0.5, pct_start=0.3, div_factor=25.0, final_div_factor=1e4)
    assert isinstance(spec.scheduler, lr_scheduler.OneCycleLR)
    assert (spec.interval, spec.monitor) == ("step", None)
    rates = _lrs(spec, plan.total_steps)  # exactly the run's steps: one more would be an error
    peak = max(range(len(rates)), key=rates.__getitem__)
    assert abs(peak - 0.3 * plan.total_steps) <= 1
    assert rates[peak] == pytest.approx(0.5)
    assert rates[0] == pytest.approx(0.5 / 25.0)  # the optimizer's own lr is replaced
    assert rates[-1] < rates[0] / 1000
    assert rates[-1] == pytest.approx(0.5 / 25.0 / 1e4, rel=1e-3)
    # Warm-up rises, annealing falls.
    assert all(a < b for a, b in itertools.pairwise(rates[: peak + 1]))
    assert all(a > b for a, b in itertools.pairwise(rates[peak:]))


def test_onecycle_cycles_momentum_only_where_the_optimizer_has_some() -> None:
    plain = _sgd()
    spec = schedulers.onecycle(plain, PLAN)
    _lrs(spec, 50)
    assert plain.param_groups[0]["momentum"] == 0.0  # plain SGD stays plain

    heavy = _sgd(momentum=0.9)
    spec = schedulers.onecycle(heavy, PLAN)
    momenta = []
    for _ in range(PLAN.total_steps):
        momenta.append(heavy.param_groups[0]["momentum"])
        heavy.step()
        spec.scheduler.step()
    assert momenta[0] == pytest.approx(0.95)  # high momentum while the rate is low
    assert min(momenta) == pytest.approx(0.85, abs=1e-3)

    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=LR0)
    schedulers.onecycle(adam, PLAN)
    assert adam.param_groups[0]["betas"][0] == pytest.approx(0.95)

    adagrad = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(3))], lr=LR0)
    assert schedulers.onecycle(adagrad, PLAN).interval == "step"  # no momentum to cycle: still builds


@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosine_anneals_over_max_epochs(eta_min: float) -> None:
    spec = schedulers.cosine(_sgd(), PLAN, eta_min=eta_min)
    assert isinstance(spec.scheduler, lr_scheduler.CosineAnnealingLR)
    assert (spec.interval, spec.monitor) == ("epoch", None)
    T = PLAN.max_epochs
    rates = _lrs(spec, T + 1)
    expected = [eta_min + (LR0 - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for t in range(T + 1)]
    assert rates == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert rates[T // 2] == pytest.approx((LR0 + eta_min) / 2)
    assert rates[-1] == pytest.approx(eta_min, abs=1e-9)


def test_cosine_per_step_spans_all_the_steps() -> None:
    plan = TrainingPlan(max_epochs=2, steps_per_epoch=5)
    spec = schedulers.cosine(_sgd(), plan, interval="step")
    assert spec.interval == "step"
    T = plan.total_steps
    _assert_follows(spec, lambda t: LR0 * (1 + math.cos(math.pi * t / T)) / 2, T + 1)


@pytest.mark.parametrize(
    ("factory", "kwargs", "named"),
    [
        (schedulers.piecewise, {"interval": "batch"}, "'batch'"),
        (schedulers.exponential, {"interval": "Epoch"}, "'Epoch'"),
        (schedulers.power, {"interval": "iteration"}, "'iteration'"),
        (schedulers.cosine, {"interval": "batch"}, "'batch'"),
        (schedulers.piecewise, {"gamma": 0.0}, "gamma=0.0"),
        (schedulers.piecewise, {"gamma": -0.5}, "gamma=-0.5"),
        (schedulers.exponential, {"s": 0.0}, "s=0.0"),
        (schedulers.exponential, {"s": -1.0}, "s=-1.0"),
        (schedulers.power, {"s": 0.0}, "s=0.0"),
        (schedulers.performance, {"mode": "avg"}, "'avg'"),
        (schedulers.performance, {"factor": 1.0}, "factor=1.0"),
        (schedulers.performance, {"factor": 0.0}, "factor=0.0"),
        (schedulers.performance, {"factor": 2.0}, "factor=2.0"),
        (schedulers.onecycle, {"max_lr": 0.0}, "max_lr=0.0"),
        (schedulers.onecycle, {"anneal_strategy": "poly"}, "'poly'"),
        (schedulers.onecycle, {"pct_start": 1.5}, "pct_start=1.5"),
        (schedulers.onecycle, {"pct_start": 1.0}, "pct_start=1.0"),
        (schedulers.onecycle, {"div_factor": 0.0}, "div_factor=0.0"),
        (schedulers.onecycle, {"final_div_factor": -1.0}, "final_div_factor=-1.0"),
    ],
)
def test_invalid_values_raise_config_error_naming_them(
    factory: Callable[..., SchedulerSpec], kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError) as info:
        factory(_sgd(), PLAN, **kwargs)
    assert named in str(info.value)
    assert "scheduler." in str(info.value)


def test_onecycle_accepts_an_integer_pct_start_of_zero() -> None:
    # A command-line override pct_start=0 arrives as an int, which torch itself rejects.
    spec = schedulers.onecycle(_sgd(), PLAN, max_lr=0.2, pct_start=0)
    rates = _lrs(spec, PLAN.total_steps)
    assert rates[0] == pytest.approx(0.2, rel=1e-3)  # no warm-up: starts at the peak
    assert rates[-1] < 0.2 / 1000


SCHEDULER_TYPES = {
    "piecewise": lr_scheduler.LambdaLR,
    "exponential": lr_scheduler.LambdaLR,
    "power": lr_scheduler.LambdaLR,
    "performance": lr_scheduler.ReduceLROnPlateau,
    "onecycle": lr_scheduler.OneCycleLR,
    "cosine": lr_scheduler.CosineAnnealingLR,
}


def test_every_scheduler_config_is_covered() -> None:
    names = {p.stem for p in (CONF / "scheduler").glob("*.yaml")}
    assert names == {*SCHEDULER_TYPES, "none"}
    assert not OmegaConf.load(CONF / "scheduler" / "none.yaml")  # empty: no scheduler


@pytest.mark.parametrize("name", sorted(SCHEDULER_TYPES))
def test_every_scheduler_config_instantiates_to_a_factory(name: str) -> None:
    factory = instantiate(OmegaConf.load(CONF / "scheduler" / f"{name}.yaml"))
    optimizer = _sgd()
    spec = factory(optimizer, PLAN)
    assert isinstance(spec, SchedulerSpec)
    assert type(spec.scheduler) is SCHEDULER_TYPES[name]
    assert spec.scheduler.optimizer is optimizer
    assert spec.interval == ("step" if name == "onecycle" else "epoch")
    assert spec.monitor == ("val/loss" if name == "performance" else None)


def test_piecewise_config_milestones_take_effect() -> None:
    # The yaml's milestones arrive as an OmegaConf list; they must still be read as ints.
    spec = instantiate(OmegaConf.load(CONF / "scheduler" / "piecewise.yaml"))(_sgd(), PLAN)
    rates = _lrs(spec, 21)
    assert rates[9] == pytest.approx(LR0)
    assert rates[10] == pytest.approx(LR0 * 0.1)
    assert rates[20] == pytest.approx(LR0 * 0.01)
