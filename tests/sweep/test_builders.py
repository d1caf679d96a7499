"""Samplers, pruners, storages and refinement built from names (no training)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from trainer.errors import ConfigError, UserError
from trainer.sweep.pruner_factory import PRUNERS, build_pruner
from trainer.sweep.refine_ranges import refine_space, top_trials
from trainer.sweep.sampler_factory import SAMPLERS, build_sampler, grid_combinations
from trainer.sweep.space import parse_space
from trainer.sweep.storage import open_storage

SPACE = parse_space(
    {
        "optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
        "model.hidden_sizes": {"type": "categorical", "choices": [[32], [64, 32], [128]]},
    }
)


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_runs_a_few_trials(name: str) -> None:
    sampler = build_sampler(name, space=SPACE, seed=1, grid_points=2)
    study = optuna.create_study(sampler=sampler)
    for _ in range(3):
        trial = study.ask()
        values = SPACE.sample(trial)
        study.tell(trial, values["optimizer.lr"])
    assert len(study.trials) == 3


def test_tpe_is_seeded() -> None:
    def first_values() -> list[float]:
        study = optuna.create_study(sampler=build_sampler("tpe", space=SPACE, seed=7))
        out = []
        for _ in range(3):
            trial = study.ask()
            out.append(SPACE.sample(trial)["optimizer.lr"])
            study.tell(trial, 1.0)
        return out

    assert first_values() == first_values()


CONDITIONAL = parse_space(
    {
        "optimizer": {"type": "categorical", "choices": ["adam", "momentum"]},
        "optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "optimizer.momentum": {
            "type": "float",
            "low": 0.8,
            "high": 0.99,
            "when": {"optimizer": ["momentum"]},
        },
    }
)


def _jointly_modelled(options: dict[str, object]) -> list[str]:
    """The parameters TPE's multivariate model covers after 8 trials (4 random start-ups) on the
    conditional space; the others are sampled independently."""
    sampler = build_sampler("tpe", space=CONDITIONAL, seed=0, options={"n_startup_trials": 4, **options})
    study = optuna.create_study(sampler=sampler)
    for _ in range(8):
        trial = study.ask()
        values = CONDITIONAL.sample(trial)
        study.tell(trial, values["optimizer.lr"] + values.get("optimizer.momentum", 0.0))
    trial = study.ask()
    return sorted(sampler.infer_relative_search_space(study, study.trials[-1]))


def test_tpe_models_a_conditional_space_jointly_unless_told_otherwise() -> None:
    """Optuna's multivariate TPE leaves a parameter that only some trials have to independent
    sampling; the default here decomposes the space into groups and models it too."""
    assert _jointly_modelled({}) == ["optimizer", "optimizer.lr", "optimizer.momentum"]
    assert _jointly_modelled({"group": False}) == ["optimizer", "optimizer.lr"]  # the user's choice wins


def test_grid_enumerates_step_and_log_points() -> None:
    combos = grid_combinations(SPACE, points=3)
    assert len(combos) == 3 * 6 * 3
    assert sorted({c["optimizer.lr"] for c in combos}) == pytest.approx([1e-4, 10**-2.5, 1e-1])


@pytest.mark.parametrize("name", PRUNERS)
def test_every_pruner_builds(name: str) -> None:
    options = {"upper": 1.0} if name == "threshold" else {}
    assert build_pruner(name, options=options) is not None


def test_bad_names_and_multi_objective_pruning_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"sweep.sampler=.tpee. is not a sampler; choose one of"):
        build_sampler("tpee", space=SPACE, seed=0)
    with pytest.raises(ConfigError, match=r"cannot prune a study with several metrics.*sweep.pruner=none"):
        build_pruner("median", multi_objective=True)
    with pytest.raises(ConfigError, match="threshold needs a bound"):
        build_pruner("threshold")
    assert isinstance(build_pruner("none", multi_objective=True), optuna.pruners.NopPruner)


def test_storages(tmp_path: Path) -> None:
    assert isinstance(open_storage("memory"), optuna.storages.InMemoryStorage)
    assert isinstance(open_storage(f"journal:{tmp_path}/j.log"), optuna.storages.JournalStorage)
    assert isinstance(open_storage(f"sqlite:///{tmp_path}/o.db"), optuna.storages.RDBStorage)
    with pytest.raises(UserError, match="not a storage URL"):
        open_storage("optuna.db")


def test_refine_narrows_ranges_around_top_trials() -> None:
    study = optuna.create_study()
    for lr, dropout, hidden in [
        (1e-3, 0.1, "[64,32]"),
        (2e-3, 0.2, "[64,32]"),
        (5e-2, 0.5, "[32]"),
        (1e-4, 0.0, "[128]"),
    ]:
        study.add_trial(
            optuna.create_trial(
                params={"optimizer.lr": lr, "model.dropout": dropout, "model.hidden_sizes": hidden},
                distributions={
                    "optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
                    "model.dropout": optuna.distributions.FloatDistribution(0.0, 0.5, step=0.1),
                    "model.hidden_sizes": optuna.distributions.CategoricalDistribution(
                        ["[32]", "[64,32]", "[128]"]
                    ),
                },
                value=abs(lr - 1.5e-3),  # the two around 1.5e-3 are best
            )
        )
    narrowed = refine_space(SPACE, top_trials(study, k=2))
    lr = narrowed.params[0]
    assert 1e-4 < lr.low < 1e-3 and 2e-3 < lr.high < 1e-1  # around both, in log space
    assert lr.log
    dropout = narrowed.params[1]
    assert (dropout.low, dropout.high) == pytest.approx((0.0, 0.3))
    assert narrowed.params[2].choices == ([64, 32],)


def test_auto_direction_follows_each_named_metric_not_the_spaces_default() -> None:
    from trainer.sweep.settings import settings_from_config

    spaces_own = settings_from_config(
        {"direction": "auto"}, default_name="mlp", default_metric="val/loss", default_direction="minimize"
    )
    assert spaces_own.directions == ("minimize",)
    named = settings_from_config(
        {"metric": ["val/loss", "val/accuracy"], "direction": "auto"},
        default_name="mlp",
        default_metric="val/loss",
        default_direction="minimize",
    )
    assert named.directions == ("minimize", "maximize")


def test_refine_on_a_memory_storage_is_refused_before_any_trial() -> None:
    from trainer.sweep.stages import run_sweep

    with pytest.raises(ConfigError, match=r"sweep.refine=true needs a storage"):
        run_sweep(["hparams_search=mlp", "sweep.storage=memory", "sweep.refine=true", "logger=none"])
