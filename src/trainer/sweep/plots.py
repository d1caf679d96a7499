"""Images of a study for its parent run: optimization history, parameter importances, parallel
coordinates, slice and contour plots, and the Pareto front of a multi-objective study. Each is a
PNG and an interactive HTML page beside it (MLflow previews both in the run's artifacts)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

log = logging.getLogger(__name__)

#: The contour plot draws one panel per pair of parameters: more than three make a grid of
#: unreadable panels, so it shows the three that matter most.
CONTOUR_PARAMS = 3


def write_plots(study: optuna.Study, directory: Path, *, metrics: Sequence[str]) -> list[Path]:
    """Save the study's plots in ``directory``: ``<name>.png`` and ``<name>.html`` each.

    A plot that cannot be made or saved is skipped with a warning that names it and the reason:
    the study's record stands without it, and the user learns why it is missing.

    Returns:
        The paths written.
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    target: dict[str, Any] = {"target_name": metrics[0]}
    if len(metrics) > 1:
        target["target"] = lambda t: t.values[0]
    plots: dict[str, Callable[[Any], Any]] = {}
    if len(metrics) > 1:
        plots["pareto_front"] = lambda vis: vis.plot_pareto_front(study, target_names=list(metrics))
    plots["optimization_history"] = lambda vis: vis.plot_optimization_history(study, **target)
    if len(complete) >= 2:
        top = top_params(study, target.get("target"))
        plots["param_importances"] = lambda vis: vis.plot_param_importances(study, **target)
        plots["parallel_coordinate"] = lambda vis: vis.plot_parallel_coordinate(study, **target)
        plots["slice"] = lambda vis: vis.plot_slice(study, **target)
        if len(top) >= 2:
            plots["contour"] = lambda vis: vis.plot_contour(study, params=top, **target)
    written = []
    for name, make in plots.items():
        written += _save_png(study, name, make, directory / f"{name}.png")
        written += _save_html(study, name, make, directory / f"{name}.html")
    return written


def top_params(
    study: optuna.Study, target: Callable[[Any], float] | None, k: int = CONTOUR_PARAMS
) -> list[str]:
    """The ``k`` most important parameters (Optuna's importance); the first ``k`` searched when
    importance cannot be measured (too few trials, a constant objective)."""
    names = list(dict.fromkeys(p for t in study.get_trials(deepcopy=False) for p in t.params))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranked = list(optuna.importance.get_param_importances(study, target=target))
    except (RuntimeError, ValueError, ZeroDivisionError):
        ranked = names
    return ranked[:k]


def _save_png(study: optuna.Study, name: str, make: Callable[[Any], Any], path: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            axes = make(vis)
        figure = _figure_of(axes)
        _readable_ticks(figure)
        figure.savefig(path, dpi=110, bbox_inches="tight")
        return [path]
    except Exception as exc:  # a figure is not worth failing the study's record for
        _skipped(study, path, exc)
        return []
    finally:
        plt.close("all")


def _save_html(study: optuna.Study, name: str, make: Callable[[Any], Any], path: Path) -> list[Path]:
    try:
        from optuna import visualization as vis  # plotly: interactive, hover shows each trial

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            figure = make(vis)
        # The plotting library from its CDN: about 10 kB a page instead of 4 MB.
        figure.write_html(path, include_plotlyjs="cdn", full_html=True)
        return [path]
    except Exception as exc:
        _skipped(study, path, exc)
        return []


def _skipped(study: optuna.Study, path: Path, exc: Exception) -> None:
    log.warning("Plot %s of study %s skipped: %s: %s", path.name, study.study_name, type(exc).__name__, exc)


def _readable_ticks(figure: Any) -> None:
    """Category names on a crowded axis are slanted, so neighbours do not print over each other."""
    for ax in figure.axes:
        labels = ax.get_xticklabels()
        if labels and any(not _is_number(label.get_text()) for label in labels):
            for label in labels:
                label.set_rotation(30)
                label.set_horizontalalignment("right")


def _is_number(text: str) -> bool:
    try:
        float(text.replace("\N{MINUS SIGN}", "-"))
    except ValueError:
        return not text  # an empty label is no category
    return True


def _figure_of(axes: Any) -> Any:
    if hasattr(axes, "figure"):
        return axes.figure
    flat = getattr(axes, "flat", None)
    if flat is not None:
        return next(iter(flat)).figure
    return axes[0].figure
