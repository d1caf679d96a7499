"""The study's plots: a PNG and an interactive HTML page each; the contour plot shows the most
important parameters only; a plot that cannot be made is skipped with a warning that names it and
the reason, never silently."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pytest

from trainer.sweep.plots import top_params, write_plots

NAMES = {"optimization_history", "param_importances", "parallel_coordinate", "slice", "contour"}


def _study(params: int = 2) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(study_name="plotted", sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        values = [trial.suggest_float(f"p{i}", 0, 1) for i in range(params)]
        kind = trial.suggest_categorical("optimizer", ["adam", "momentum", "nesterov_momentum"])
        # p0 matters most, then p1; the rest barely.
        return 10 * values[0] + 3 * values[1] + 0.01 * sum(values[2:]) + (kind == "adam") * 0.1

    study.optimize(objective, n_trials=40)
    return study


def test_every_plot_is_a_png_and_an_html_page(tmp_path: Path) -> None:
    written = write_plots(_study(), tmp_path / "plots", metrics=["val/loss"])
    assert {p.name for p in written} == {f"{n}.{ext}" for n in NAMES for ext in ("png", "html")}
    for path in written:
        head = path.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else b"<html" in head.lower()
    page = (tmp_path / "plots" / "slice.html").read_text()
    assert "val\\u002floss" in page and "cdn.plot.ly" in page  # plotly's JSON escapes the slash


def test_the_contour_plot_shows_the_three_most_important_parameters(tmp_path: Path) -> None:
    study = _study(params=6)
    top = top_params(study, None)
    assert len(top) == 3 and top[0] == "p0"
    write_plots(study, tmp_path / "plots", metrics=["val/loss"])
    page = (tmp_path / "plots" / "contour.html").read_text()
    shown = {f"p{i}" for i in range(6) if f'"p{i}"' in page}
    assert shown == set(top)  # the three that matter, not a 6 x 6 grid


def test_a_plot_that_fails_is_skipped_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "plots"
    (folder / "slice.png").mkdir(parents=True)  # a folder where the file should go: saving fails
    with caplog.at_level(logging.WARNING, logger="trainer.sweep.plots"):
        written = write_plots(_study(), folder, metrics=["val/loss"])
    assert "slice.png" not in {p.name for p in written} and len(written) == 9
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "Plot slice.png of study plotted skipped" in record.getMessage()
    assert "slice.png" in record.getMessage()  # the reason: the error names the path
