"""The study's plots: written as PNG files; one that cannot be made is skipped with a warning
that names it and the reason, never silently."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pytest

from trainer.sweep.plots import write_plots


def _study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="plotted", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2 + t.suggest_float("y", 0, 1), n_trials=6)
    return study


def test_plots_are_written(tmp_path: Path) -> None:
    written = write_plots(_study(), tmp_path / "plots", metrics=["val/loss"])
    names = {p.stem for p in written}
    assert names == {"optimization_history", "param_importances", "parallel_coordinate", "slice", "contour"}
    assert all(p.stat().st_size > 0 for p in written)


def test_a_plot_that_fails_is_skipped_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "plots"
    (folder / "slice.png").mkdir(parents=True)  # a folder where the file should go: saving fails
    with caplog.at_level(logging.WARNING, logger="trainer.sweep.plots"):
        written = write_plots(_study(), folder, metrics=["val/loss"])
    assert "slice" not in {p.stem for p in written} and len(written) == 4
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "Plot slice of study plotted skipped" in record.getMessage()
    assert "slice.png" in record.getMessage()  # the reason: the error names the path
