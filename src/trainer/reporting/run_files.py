"""Hand a finished run's files to its logger: config, Hydra files, metrics, figures, checkpoints."""

from __future__ import annotations

from pathlib import Path

from trainer.engine import Trainer
from trainer.tracking.base import Logger


def record_run_files(
    logger: Logger, run_dir: Path, trainer: Trainer, figure_paths: list[Path], *, checkpoints: bool = True
) -> None:
    """Send the run folder's files to ``logger``; checkpoints when asked and the logger records them."""
    for name in ("config.yaml", "metrics.json"):
        if (run_dir / name).exists():
            logger.log_artifact(run_dir / name)
    if (run_dir / ".hydra").is_dir():
        logger.log_artifact(run_dir / ".hydra", artifact_path="hydra")
    for path in figure_paths:
        logger.log_artifact(path, artifact_path="figures")
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoints and logger.records_checkpoints:
        for saved in {checkpoint.best_model_path, checkpoint.last_model_path} - {""}:
            if Path(saved).exists():
                logger.log_artifact(saved, artifact_path="checkpoints")
