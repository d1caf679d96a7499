"""Images of a study for its parent run: optimization history, parameter importances, parallel
coordinates, slice and contour plots, and the Pareto front of a multi-objective study."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

log = logging.getLogger(__name__)


def write_plots(study: optuna.Study, directory: Path, *, metrics: Sequence[str]) -> list[Path]:
    """Save the study's plots as PNG files in ``directory``.

    A plot that cannot be made or saved is skipped with a warning that names it and the reason:
    the study's record stands without it, and the user learns why it is missing.

    Returns:
        The paths written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Callable[..., Any]] = {}
    if len(metrics) > 1:
        plots["pareto_front"] = lambda: vis.plot_pareto_front(study, target_names=list(metrics))
        target: dict[str, Any] = {"target": lambda t: t.values[0], "target_name": metrics[0]}
    else:
        target = {"target_name": metrics[0]}
    plots["optimization_history"] = lambda: vis.plot_optimization_history(study, **target)
    if len(complete) >= 2:
        plots["param_importances"] = lambda: vis.plot_param_importances(study, **target)
        plots["parallel_coordinate"] = lambda: vis.plot_parallel_coordinate(study, **target)
        plots["slice"] = lambda: vis.plot_slice(study, **target)
        plots["contour"] = lambda: vis.plot_contour(study, **target)
    written = []
    for name, make in plots.items():
        path = directory / f"{name}.png"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                axes = make()
            figure = _figure_of(axes)
            figure.savefig(path, dpi=110, bbox_inches="tight")
            written.append(path)
        except Exception as exc:  # a figure is not worth failing the study's record for
            log.warning(
                "Plot %s of study %s skipped: %s: %s", name, study.study_name, type(exc).__name__, exc
            )
        finally:
            plt.close("all")
    return written


def _figure_of(axes: Any) -> Any:
    if hasattr(axes, "figure"):
        return axes.figure
    flat = getattr(axes, "flat", None)
    if flat is not None:
        return next(iter(flat)).figure
    return axes[0].figure
