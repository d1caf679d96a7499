"""``sweep.refine_from``: a second study on ranges shrunk around an existing study's best trials,
named ``<source>-refine`` unless ``sweep.study_name`` names it. Real sqlite stores in tmp_path."""

from __future__ import annotations

import io
import math

import optuna
import pytest

from trainer.sweep.config import load_sweep
from trainer.sweep.space import parse_space
from trainer.sweep.stages import run_sweep

LR = {"optimizer.lr": {"type": "float", "low": 1.0e-4, "high": 3.0e-2, "log": True}}
QUICK = ["hparams_search=mlp", "sweep.plots=false", "sweep.refit_best=false"]


def _log_width(low: float, high: float) -> float:
    return math.log(high) - math.log(low)


@pytest.mark.slow
def test_refine_from_names_the_refined_study_and_shrinks_its_range(base: list[str], storage: str) -> None:
    first = [*QUICK, "sweep.n_trials=3", f"sweep.storage={storage}", "sweep.study_name=coarse", *base]
    settings, _, _ = load_sweep(first)
    run_sweep(first, space=parse_space(LR), settings=settings, stream=io.StringIO())
    source = optuna.load_study(study_name="coarse", storage=storage)
    best_lr = source.best_trial.params["optimizer.lr"]

    refine = [*QUICK, "sweep.n_trials=1", "sweep.refine_top_k=1", f"sweep.storage={storage}", *base]
    out = io.StringIO()
    [default] = run_sweep([*refine, "sweep.refine_from=coarse"], stream=out)
    assert default.study_name == "coarse-refine"
    assert "Refining coarse around its top 1 into coarse-refine:" in out.getvalue()
    [explicit] = run_sweep(
        [*refine, "sweep.refine_from=coarse", "sweep.study_name=fine"], stream=io.StringIO()
    )
    assert explicit.study_name == "fine"  # sweep.study_name is kept with refine_from

    for name in ("coarse-refine", "fine"):
        refined = optuna.load_study(study_name=name, storage=storage)
        assert refined.user_attrs["refined_from"] == "coarse"
        assert len(refined.trials) == 1
        lr = refined.user_attrs["space"]["optimizer.lr"]
        assert 1.0e-4 <= lr["low"] <= best_lr <= lr["high"] <= 3.0e-2  # around the best, inside the first
        assert _log_width(lr["low"], lr["high"]) < _log_width(1.0e-4, 3.0e-2) / 2
        assert lr["log"] is True
