"""``train(cfg)``: the one function the CLI and every sweep trial call.

It builds everything from the config, fits, tests the best checkpoint, and returns the
metrics. It leaves no global state behind (log handlers, deterministic flags), so a
hundred trials can run in one process.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from trainer.build import (
    build_callbacks,
    build_datamodule,
    build_logger,
    build_module,
    build_trainer,
    count_parameters,
)
from trainer.config.compose import ComposedConfig
from trainer.config.validate import validate_config
from trainer.engine.seed import seed_everything
from trainer.run_dir import log_to_file, make_run_dir, readable_run_name, write_config_files
from trainer.tracking.params import flatten_config

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a finished run gives back.

    Attributes:
        metrics: final validation metrics (``val/...``) and test metrics (``test/...``).
        run_dir: the run folder.
        best_checkpoint: path of the best checkpoint, or "" when none was kept.
        history: one row per epoch.
    """

    metrics: dict[str, float]
    run_dir: Path
    best_checkpoint: str = ""
    last_checkpoint: str = ""
    history: list[dict[str, float]] = field(default_factory=list)
    tracking_run_id: str | None = None


def train(composed: ComposedConfig | DictConfig, *, callbacks: Sequence[Any] = ()) -> RunResult:
    """Fit and test the run that ``composed`` describes.

    Args:
        composed: a :class:`ComposedConfig` from ``compose_config`` (or a bare DictConfig).
        callbacks: extra callbacks appended after the configured ones (a sweep's pruner).

    Returns:
        The run's metrics, folder and checkpoints.

    Raises:
        UserError: bad config or data, or a non-finite loss; the message says what to fix.
    """
    if isinstance(composed, DictConfig):
        composed = ComposedConfig(cfg=composed, overrides=[])
    cfg = validate_config(composed.cfg)
    run_name = cfg.run_name or readable_run_name(composed.choices, composed.overrides)
    run_dir = Path(cfg.paths.run_dir) if cfg.paths.run_dir else make_run_dir(cfg.paths.runs_dir, run_name)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):  # record the concrete values in the saved config
        cfg.paths.run_dir = str(run_dir)
        cfg.run_name = run_name
    write_config_files(run_dir, cfg, composed.overrides, composed.hydra)

    with log_to_file(run_dir / "train.log"):
        log.info("Run %s in %s", run_name, run_dir)
        seed_everything(cfg.seed)
        datamodule = build_datamodule(cfg)
        module = build_module(cfg, datamodule)
        logger = build_logger(cfg)
        trainer = build_trainer(
            cfg, run_dir=run_dir, callbacks=[*build_callbacks(cfg), *callbacks], logger=logger
        )
        log.info(
            "Model: %s parameters on %s, precision %s.",
            f"{count_parameters(module):,}",
            trainer.device,
            trainer.precision,
        )
        status = "FAILED"
        try:
            logger.log_hyperparams(flatten_config(trainer.config or {}))
            trainer.fit(module, datamodule, ckpt_path=cfg.ckpt_path)
            metrics = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
            checkpoint = trainer.checkpoint_callback
            best = getattr(checkpoint, "best_model_path", "") if checkpoint else ""
            if cfg.test_after_fit and datamodule.test_dataloader() is not None:
                metrics.update(trainer.test(module, datamodule, ckpt_path=best or None))
                trainer.log_metrics(
                    {k: v for k, v in metrics.items() if k.startswith("test/")},
                    step=trainer.global_step,
                )
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            logger.finalize(status)
        result = RunResult(
            metrics=metrics,
            run_dir=run_dir,
            best_checkpoint=best,
            last_checkpoint=getattr(checkpoint, "last_model_path", "") if checkpoint else "",
            history=trainer.history,
            tracking_run_id=logger.run_id,
        )
        _write_metrics(run_dir / "metrics.json", metrics)
        log.info("Finished: %s", ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return result


def _write_metrics(path: Path, metrics: dict[str, float]) -> None:
    # JSON has no NaN: write null for undefined metrics (e.g. ROC-AUC of a one-class split).
    clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True))
