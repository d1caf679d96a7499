"""What a finished run leaves behind: figures, the packaged model, and the files a tracker uploads."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from trainer.engine.callbacks import LearningRateMonitor
from trainer.tracking import figures

log = logging.getLogger(__name__)


def _to_python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def make_figures(run_dir: Path, trainer: Any, module: Any, datamodule: Any) -> list[Path]:
    """Draw every figure that fits the run's objective into ``run_dir/figures``."""
    directory = run_dir / "figures"
    directory.mkdir(parents=True, exist_ok=True)
    made: list[Path | None] = [figures.learning_curves(trainer.history, directory / "learning_curves.png")]
    lr_monitor = next((cb for cb in trainer.callbacks if isinstance(cb, LearningRateMonitor)), None)
    if lr_monitor is not None:
        made.append(figures.learning_rate(lr_monitor.history, directory / "learning_rate.png"))
    if datamodule.test_dataloader() is not None:
        predictions = trainer.predict(module, datamodule).numpy()
        labels = datamodule.tensors("test")[1].numpy()
        made.extend(_test_figures(module.objective, predictions, labels, datamodule, directory))
    return [p for p in made if p is not None]


def _test_figures(
    objective: Any, predictions: np.ndarray, labels: np.ndarray, datamodule: Any, directory: Path
) -> list[Path]:
    name = objective.name
    classes = [_to_python(c) for c in datamodule.classes_]
    if name == "binary":
        y_true = labels.astype(np.int64)
        y_pred = (predictions >= objective.threshold).astype(np.int64)
        matrix = np.bincount(y_true * 2 + y_pred, minlength=4).reshape(2, 2)
        return [
            figures.confusion_matrix(matrix, classes, directory / "confusion_matrix.png"),
            *figures.roc_and_pr(y_true, predictions, directory),
        ]
    if name == "multiclass":
        y_true = labels.astype(np.int64)
        k = predictions.shape[1]
        matrix = np.bincount(y_true * k + predictions.argmax(axis=1), minlength=k * k).reshape(k, k)
        return [
            figures.confusion_matrix(matrix, classes or list(range(k)), directory / "confusion_matrix.png")
        ]
    if name == "regression":
        return [
            figures.residuals(
                labels.reshape(len(labels), -1)[:, 0],
                predictions.reshape(len(predictions), -1)[:, 0],
                directory / "residuals.png",
            )
        ]
    return [
        figures.reconstruction_errors(predictions, labels.reshape(-1), directory / "reconstruction_error.png")
    ]


def package_model(run_dir: Path, module: Any, datamodule: Any, model_config: dict[str, Any]) -> Path:
    """Save the network with its fitted preprocessing as an MLflow pyfunc model in ``run_dir/model``."""
    from trainer.tracking.pyfunc_model import save_pyfunc_model

    objective = module.objective
    meta = {
        "task": objective.name,
        "classes": [_to_python(c) for c in datamodule.classes_],
        "threshold": getattr(objective, "threshold", 0.5),
        "columns": datamodule.raw_feature_columns_,
        "numeric": datamodule.numeric_columns_,
        "categorical": datamodule.categorical_columns_,
        "num_features": datamodule.num_features,
    }
    sample = datamodule.splits_["test"] if len(datamodule.splits_["test"]) else datamodule.splits_["train"]
    example = sample[datamodule.raw_feature_columns_].head(5).reset_index(drop=True)
    kwargs = {k: v for k, v in model_config.items() if not k.startswith("_")}
    kwargs["in_features"] = datamodule.num_features
    kwargs["out_features"] = _output_width(module.model)
    spec = {"target": model_config["_target_"], "kwargs": kwargs}
    return save_pyfunc_model(
        run_dir / "model",
        network=module.model,
        network_spec=spec,
        preprocessor=datamodule.preprocessor_,
        meta=meta,
        input_example=example,
    )


def _output_width(network: Any) -> int:
    """Width of the network's last linear layer (what ``out_features`` was built with)."""
    import torch

    last = [m for m in network.modules() if isinstance(m, torch.nn.Linear)][-1]
    return int(last.out_features)


def upload_run_files(logger: Any, run_dir: Path, trainer: Any, figure_paths: list[Path]) -> None:
    """Send the run's files to the logger: config, Hydra files, metrics, figures, checkpoints."""
    for name in ("config.yaml", "metrics.json"):
        if (run_dir / name).exists():
            logger.log_artifact(run_dir / name)
    if (run_dir / ".hydra").is_dir():
        logger.log_artifact(run_dir / ".hydra", artifact_path="hydra")
    for path in figure_paths:
        logger.log_artifact(path, artifact_path="figures")
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and getattr(logger, "log_checkpoints", False):
        for path in {checkpoint.best_model_path, checkpoint.last_model_path} - {""}:
            if Path(path).exists():
                logger.log_artifact(path, artifact_path="checkpoints")
