"""Find or create an MLflow experiment by name, safely when several processes race to create it."""

from __future__ import annotations

from typing import Any

# The tag makes MLflow 3's UI open the experiment in its model-training view.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"


def get_or_create_experiment(client: Any, name: str) -> str:
    """The id of experiment ``name`` in ``client``'s store, creating it if it does not exist.

    Args:
        client: an ``mlflow.tracking.MlflowClient``.
        name: the experiment's name.

    Returns:
        The experiment id.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: "custom_model_development"}))
    except Exception:  # another process created it between our two calls
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)
