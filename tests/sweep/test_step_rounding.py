"""Stepped floats are stored as written (0.3), in a real sqlite study read back from disk."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from trainer.sweep.sampler_factory import build_sampler
from trainer.sweep.space import parse_space
from trainer.sweep.step_rounding import StepRoundingSampler, on_written_grid, rounding_steps

SPACE = parse_space(
    {
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
        "optimizer.momentum": {"type": "float", "low": 0.05, "high": 0.95, "step": 0.15},
        "optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    }
)
WRITTEN = {
    "model.dropout": {0.0, 0.1, 0.2, 0.3, 0.4, 0.5},
    "optimizer.momentum": {0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95},
}


def _stored_params(sampler: optuna.samplers.BaseSampler, folder: Path, trials: int = 24) -> list[dict]:
    """Run ``trials`` trials against a sqlite storage; the params as a fresh load reads them."""
    folder.mkdir(exist_ok=True)
    storage = f"sqlite:///{folder}/optuna.db"
    study = optuna.create_study(study_name="s", storage=storage, sampler=sampler)
    for _ in range(trials):
        trial = study.ask()
        values = SPACE.sample(trial)
        study.tell(trial, values["model.dropout"] + values["optimizer.momentum"] + values["optimizer.lr"])
    return [t.params for t in optuna.load_study(study_name="s", storage=storage).trials]


def test_optuna_alone_stores_points_off_the_written_grid(tmp_path: Path) -> None:
    """The defect this wrapper exists for (if an Optuna release fixes it, the wrapper can go)."""
    params = _stored_params(optuna.samplers.RandomSampler(seed=0), tmp_path)
    off = {p["model.dropout"] for p in params} - WRITTEN["model.dropout"]
    assert off, "Optuna now stores stepped floats as written; trainer.sweep.step_rounding is not needed"


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("name", ["tpe", "random", "qmc"])
def test_every_stepped_float_is_stored_as_written(name: str, tmp_path: Path) -> None:
    base = build_sampler(name, space=SPACE, seed=0, options={"n_startup_trials": 6} if name == "tpe" else {})
    params = _stored_params(rounding_steps(base), tmp_path)
    for key, grid in WRITTEN.items():
        assert {p[key] for p in params} <= grid, key
    assert all(1e-4 <= p["optimizer.lr"] <= 1e-1 for p in params)


def test_the_sampler_decides_as_before(tmp_path: Path) -> None:
    """Rounding changes the stored digits only: the same seed draws the same grid points."""
    plain = _stored_params(optuna.samplers.TPESampler(seed=3, n_startup_trials=6), tmp_path / "a", trials=16)
    wrapped = _stored_params(
        StepRoundingSampler(optuna.samplers.TPESampler(seed=3, n_startup_trials=6)), tmp_path / "b", trials=16
    )
    for before, after in zip(plain, wrapped, strict=True):
        assert before.keys() == after.keys()
        for key in before:
            assert after[key] == pytest.approx(before[key], rel=1e-12, abs=1e-15), key


def test_rounding_keeps_other_values_and_the_bounds() -> None:
    stepped = optuna.distributions.FloatDistribution(0.0, 1.0, step=0.25)
    assert on_written_grid(0.7500000000000001, stepped) == 0.75
    assert on_written_grid(1.0000000000000002, stepped) == 1.0  # never past high
    eighths = optuna.distributions.FloatDistribution(0.0, 1.0, step=0.125)
    assert on_written_grid(0.375, eighths) == 0.375  # three decimals kept
    log = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    assert on_written_grid(0.0012345678901234, log) == 0.0012345678901234
    assert on_written_grid("adam", optuna.distributions.CategoricalDistribution(["adam"])) == "adam"


def test_a_grid_sampler_is_left_as_it_is() -> None:
    grid = optuna.samplers.GridSampler({"x": [0.1, 0.2]})
    assert rounding_steps(grid) is grid
