"""Package a trained network with the data's fitted preprocessing as an MLflow pyfunc model.

Only tables are packaged: the pyfunc model scores raw table rows through the fitted
preprocessing. Images, series windows and texts would each need their own raw-input
contract (pixels, a history of rows, strings); until one exists their runs keep the network
in the checkpoints (``checkpoints/best*.ckpt``, loadable with the config beside it) and no
``model/`` folder is written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from trainer.data.base import DataModule
from trainer.engine import TrainingModule
from trainer.reporting.figures import python_scalar

log = logging.getLogger(__name__)


def package_model(
    run_dir: Path,
    module: TrainingModule,
    datamodule: DataModule,
    model_config: dict[str, Any],
    *,
    shape_arguments: dict[str, Any],
) -> Path | None:
    """Save the network and its preprocessing in ``run_dir/model``; it scores raw table rows.

    Args:
        run_dir: the run folder.
        module: the trained module.
        datamodule: the run's data (its fitted preprocessing travels with the model).
        model_config: the resolved ``model`` config the network was built from.
        shape_arguments: what the build took from the data to make the network
            (``in_features``, ``categorical_cardinalities`` ...), so the package rebuilds it alike.

    Returns:
        The model folder, or ``None`` for data other than a table (nothing is written).
    """
    # mlflow.pyfunc costs 0.7 s of CPU to import: only runs that package a model pay it.
    from trainer.reporting.pyfunc_model import save_pyfunc_model

    table = datamodule.raw_table()
    if table is None:
        name = type(datamodule).__name__
        log.info("No packaged model for %s data: the checkpoints hold the network.", name)
        return None
    objective = module.objective
    meta = {
        "task": objective.name,
        "objective": f"{type(objective).__module__}.{type(objective).__qualname__}",
        "classes": [python_scalar(c) for c in datamodule.classes_],
        **objective.packaging_meta(),
        "columns": table.columns,
        "numeric": table.numeric,
        "categorical": table.categorical,
        "num_features": datamodule.num_features,
    }
    example = table.example(5)
    kwargs = {k: v for k, v in model_config.items() if not k.startswith("_")}
    kwargs.update(shape_arguments)
    kwargs["out_features"] = _output_width(module.model)
    spec = {"target": model_config["_target_"], "kwargs": kwargs}
    return save_pyfunc_model(
        run_dir / "model",
        network=module.model,
        network_spec=spec,
        preprocessor=table.preprocessor,
        meta=meta,
        input_example=example,
    )


def _output_width(network: torch.nn.Module) -> int:
    """Width of the network's last linear layer (what ``out_features`` was built with)."""
    last = [m for m in network.modules() if isinstance(m, torch.nn.Linear)][-1]
    return int(last.out_features)
