"""``train(cfg)``: the one function the CLI and every sweep trial call.

It builds everything from the config, fits, tests the best checkpoint, records the run, and
returns the metrics. It leaves no global state behind (log handlers, deterministic flags, the
process group), so a hundred trials can run in one process.

Under torchrun (``trainer.strategy=ddp``) every process calls it. Rank 0 runs it as one process
would; the others only fit and test beside it (``_follow_rank_zero``): no folder, file or record.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

from omegaconf import DictConfig, OmegaConf, open_dict

from trainer import startup_gc
from trainer.build import (
    build_callbacks,
    build_data_and_module,
    build_logger,
    build_trainer,
    count_parameters,
    data_shape_arguments,
    run_config,
)
from trainer.config.compose import ComposedConfig
from trainer.config.validate import validate_config
from trainer.data.base import DataModule
from trainer.diagnostics import bias_variance_report, model_summary, still_improving
from trainer.engine import Trainer, TrainingModule
from trainer.engine.callback_protocols import RanksCheckpoints
from trainer.engine.checkpoint import check_checkpoint_fits
from trainer.engine.device import describe_device
from trainer.engine.distributed import broadcast_object, is_rank_zero, process_group, read_on_rank_zero
from trainer.errors import RunStopped
from trainer.log_channels import FILE_ONLY
from trainer.redact import redact
from trainer.reporting import RunOutputs, make_figures, package_model, record_run_files
from trainer.reporting.run_description import (
    DESCRIPTION_TAG,
    best_epoch_line,
    best_row,
    command_line,
    training_description,
)
from trainer.run_dir import held_log_records, log_to_file, readable_run_name
from trainer.tracked_run import RunFolder, tracked_run
from trainer.tracking.base import Logger, NullLogger
from trainer.tracking.params import flatten_config, run_params
from trainer.tracking.provenance import provenance_tags

log = logging.getLogger(__name__)

P = ParamSpec("P")


@dataclass
class RunResult:
    """What a finished run gives back.

    Attributes:
        metrics: final validation metrics (``val/...``) and test metrics (``test/...``).
        run_dir: the run folder.
        best_checkpoint: path of the best checkpoint, or "" when none was kept.
        last_checkpoint: path of ``last.ckpt``, or "".
        history: one row per epoch.
        tracking_run_id: the tracker's id of the run (MLflow run id), if any.
        model_uri: where the packaged model was logged, if it was.
        pending_path: where records the tracking store never received were saved, if anywhere.
        best: ``best epoch 7 of 10, val/loss = 0.1234``: what the checkpoint kept ("" if nothing).
        best_metrics: the validation metrics of that epoch (``metrics`` holds the last epoch's).
        location: lines that tell the user where the run is recorded and how to browse it.
        where: what a command prints at its end (the folder, then ``location``), from the
            tracked run (:meth:`trainer.tracked_run.TrackedRun.where_lines`).
    """

    metrics: dict[str, float]
    run_dir: Path
    best_checkpoint: str = ""
    last_checkpoint: str = ""
    history: list[dict[str, float]] = field(default_factory=list)
    tracking_run_id: str | None = None
    model_uri: str | None = None
    pending_path: str | None = None
    best: str = ""
    best_metrics: dict[str, float] = field(default_factory=dict)
    location: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)


def _in_process_group(
    run: Callable[Concatenate[ComposedConfig | DictConfig, P], RunResult],
) -> Callable[Concatenate[ComposedConfig | DictConfig, P], RunResult]:
    """Run ``run`` inside the process group of the DDP run its config describes (none for one process)."""

    @functools.wraps(run)
    def in_group(composed: ComposedConfig | DictConfig, /, *args: P.args, **kwargs: P.kwargs) -> RunResult:
        cfg = composed if isinstance(composed, DictConfig) else composed.cfg
        with process_group(
            strategy=OmegaConf.select(cfg, "trainer.strategy", default="auto"),
            devices=OmegaConf.select(cfg, "trainer.devices", default="auto"),
            accelerator=OmegaConf.select(cfg, "trainer.accelerator", default="auto"),
        ):
            return run(composed, *args, **kwargs)

    return in_group


@_in_process_group
def train(
    composed: ComposedConfig | DictConfig,
    *,
    callbacks: Sequence[object] = (),
    parent_run_id: str | None = None,
    outputs: RunOutputs | None = None,
) -> RunResult:
    """Fit, test and record the run that ``composed`` describes.

    Args:
        composed: a :class:`ComposedConfig` from ``compose_config`` (or a bare DictConfig).
        callbacks: extra callbacks appended after the configured ones (a sweep's pruner).
        parent_run_id: record the run as a child of this tracking run (a sweep's study run).
        outputs: which expensive outputs to produce; None: all (a sweep's trials skip some).

    Returns:
        The run's metrics, folder, checkpoints and tracking ids.

    Raises:
        UserError: bad config or data, or a non-finite loss; the message says what to fix.
    """
    if isinstance(composed, DictConfig):
        composed = ComposedConfig(cfg=composed, overrides=[])
    outputs = outputs or RunOutputs.full()
    cfg = validate_config(composed.cfg)
    if not is_rank_zero():  # another process of a DDP run: it fits and tests beside rank 0, no more
        return _follow_rank_zero(cfg, extra_callbacks=callbacks, test=outputs.test)
    run_name = cfg.run_name or readable_run_name(composed.choices, composed.overrides)
    # Everything a mistake in the config, data, checkpoint, tracking store or Trainer options can
    # break is built before the run folder is made and announced: such a mistake leaves no folder.
    # Building logs the data's lines; they go into train.log once it exists.
    with held_log_records() as building_lines:
        parts = _build_run(cfg, extra_callbacks=callbacks)
    folder = RunFolder.open(chosen=cfg.paths.run_dir, runs_dir=cfg.paths.runs_dir, run_name=run_name)
    run_dir = folder.path
    broadcast_object(str(run_dir))  # to the other processes of a DDP run: their checkpoint paths
    with open_dict(cfg):  # record the concrete values in the saved config
        cfg.paths.run_dir = str(run_dir)
        cfg.run_name = run_name
    folder.write_config(cfg, composed.overrides, composed.hydra)

    with log_to_file(run_dir / "train.log", earlier=building_lines):
        log.info("Run %s in %s", run_name, run_dir)
        _place_in(cfg, parts, run_dir)
        datamodule, module, logger, trainer = parts.datamodule, parts.module, parts.logger, parts.trainer
        result = RunResult(metrics={}, run_dir=run_dir)
        try:
            with tracked_run(
                logger,
                folder=folder,
                run_name=run_name,
                log_file="train.log",
                parent_run_id=parent_run_id,
                resume_run_id=parts.resume_run_id,
                resume_step=parts.resume_step,
                resume_from=Path(cfg.ckpt_path) if cfg.ckpt_path else None,
            ) as run:
                result.tracking_run_id = logger.run_id
                _record_start(parts, composed.overrides, run_dir, outputs)
                result.metrics = _fit_and_test(cfg, trainer, module, datamodule, test=outputs.test)
                _write_metrics(run_dir / "metrics.json", result.metrics)
                _record_end(
                    parts, run_dir, result, outputs, command=command_line("train", composed.overrides)
                )
        except RunStopped as exc:  # stopped on purpose (a pruned sweep trial): not a failure
            log.info("Stopped early: %s", exc)
            raise
        finally:
            result.tracking_run_id = logger.run_id
            result.pending_path = str(logger.pending_path) if logger.pending_path else None
            result.location = logger.location_lines()
        checkpoint = trainer.checkpoint_callback
        result.best_checkpoint = checkpoint.best_model_path if checkpoint else ""
        result.last_checkpoint = checkpoint.last_model_path if checkpoint else ""
        result.history = trainer.history
        monitor, score = _ranking(checkpoint)
        result.best = best_epoch_line(trainer.history, monitor, score)
        row = best_row(trainer.history, monitor, score) or {}
        result.best_metrics = {k: float(v) for k, v in row.items() if k.startswith("val/")}
        result.where = run.where_lines()
        # In the log file; the console shows the command's table instead (not the numbers twice).
        log.info(
            "Finished: %s", ", ".join(f"{k}={v:.4g}" for k, v in result.metrics.items()), extra=FILE_ONLY
        )
    return result


@dataclass
class _RunParts:
    datamodule: DataModule
    module: TrainingModule
    logger: Logger
    trainer: Trainer
    resume_run_id: str | None
    resume_step: int | None = None
    # The resolved run config, credentials masked (params, checkpoints); set by _place_in.
    config: dict[str, Any] = field(default_factory=dict)


def _follow_rank_zero(cfg: DictConfig, *, extra_callbacks: Sequence[object], test: bool) -> RunResult:
    """Another process of a DDP run than rank 0: the same fit and test, with no folder, file or record.

    Rank 0 made the run folder and sends its path, so both name the same checkpoint files. Rank 0
    writes them and alone reads them back (the best one for the test, one to resume from), then
    sends the weights: this process may run on another machine, whose disk has no run folder.
    """
    # In rank 0's order (build, then the folder's path), so the collectives of each step line up.
    parts = _build_run(cfg, extra_callbacks=extra_callbacks, rank_zero=False)
    run_dir = Path(broadcast_object(""))
    _place_in(cfg, parts, run_dir)
    startup_gc.settle()  # built: what rank 0's run routine does when its run is open
    metrics = _fit_and_test(cfg, parts.trainer, parts.module, parts.datamodule, test=test)
    checkpoint = parts.trainer.checkpoint_callback
    return RunResult(
        metrics=metrics,
        run_dir=run_dir,
        best_checkpoint=checkpoint.best_model_path if checkpoint else "",
        last_checkpoint=checkpoint.last_model_path if checkpoint else "",
        history=parts.trainer.history,
    )


def _build_run(cfg: DictConfig, *, extra_callbacks: Sequence[object], rank_zero: bool = True) -> _RunParts:
    """Everything a run needs, built and checked before its folder exists (see :func:`_place_in`)."""
    datamodule, module = build_data_and_module(cfg)
    resume_run_id = None
    resume_step = None
    if cfg.ckpt_path:  # a checkpoint of another model fails here, not after the tracking run opened
        model_config = OmegaConf.to_container(cfg.model, resolve=True)
        assert isinstance(model_config, dict)
        config = {str(k): v for k, v in model_config.items()}

        def where_it_stopped() -> tuple[str | None, int]:
            state = check_checkpoint_fits(cfg.ckpt_path, module.model, model_config=config)
            return state["tracking_run_id"] or None, int(state["global_step"])

        # Only rank 0 needs the file: other ranks may run on machines that do not have it.
        resume_run_id, resume_step = read_on_rank_zero(where_it_stopped)
    # The logger checks its tracking store when built: a store that can never work stops here.
    logger = build_logger(cfg) if rank_zero else NullLogger()
    # The Trainer checks its options when made. It writes nothing until it fits, so it is made
    # now and pointed at the run folder once that exists (_place_in).
    callbacks = [*build_callbacks(cfg), *extra_callbacks]
    trainer = build_trainer(
        cfg, run_dir=Path(cfg.paths.runs_dir), callbacks=callbacks, logger=logger, config={}
    )
    log.info(
        "Model: %s parameters on %s, precision %s.",
        f"{count_parameters(module):,}",
        trainer.device,
        trainer.precision,
    )
    return _RunParts(datamodule, module, logger, trainer, resume_run_id, resume_step)


def _place_in(cfg: DictConfig, parts: _RunParts, run_dir: Path) -> None:
    """Point the built run at its folder, and resolve the run config (it records ``paths.run_dir``)."""
    parts.trainer.default_root_dir = run_dir
    parts.config = run_config(cfg)
    parts.trainer.config = parts.config


def _fit_and_test(
    cfg: DictConfig, trainer: Trainer, module: TrainingModule, datamodule: DataModule, *, test: bool
) -> dict[str, float]:
    trainer.fit(module, datamodule, ckpt_path=cfg.ckpt_path)
    metrics = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if checkpoint else ""
    if test and cfg.test_after_fit and datamodule.test_dataloader() is not None:
        test_metrics = trainer.test(module, datamodule, ckpt_path=best or None)
        # The data's own yardstick (a forecast's naive "last value" MAE) beside the model's.
        test_metrics.update({f"test/{k}": v for k, v in datamodule.reference_metrics().items()})
        trainer.log_metrics(test_metrics, step=trainer.global_step)
        metrics.update(test_metrics)
    return metrics


def _record_start(parts: _RunParts, overrides: list[str], run_dir: Path, outputs: RunOutputs) -> None:
    logger, trainer, module, datamodule = parts.logger, parts.trainer, parts.module, parts.datamodule
    tags = provenance_tags(device=describe_device(trainer.device), precision=trainer.precision)
    tags["overrides"] = redact(" ".join(overrides)) or "(none)"
    tags["run_dir"] = str(run_dir)
    tags["world_size"] = str(trainer.world_size)
    logger.set_tags(tags)
    logger.log_hyperparams(run_params(flatten_config(parts.config)))
    info = datamodule.describe()
    frames = datamodule.datasets() if outputs.datasets else {}
    if frames:
        target = str(info.get("target", ""))
        logger.log_dataset(frames, name=str(info["name"]), source=str(info["source"]), target=target)
    if not outputs.diagnostics:
        return
    # Layer, output shape and parameters, on two validation rows (not augmented, module on the CPU).
    example = next(iter(datamodule.val_dataloader() or datamodule.train_dataloader()))[0][:2]
    summary = model_summary(module.model, example)
    log.info("Model summary:\n%s", summary)
    _write_and_record(logger, run_dir / "model_summary.txt", summary)


def _write_and_record(logger: Logger, path: Path, text: str) -> None:
    path.write_text(text + "\n", encoding="utf-8")
    logger.log_artifact(path)


def _record_end(
    parts: _RunParts, run_dir: Path, result: RunResult, outputs: RunOutputs, *, command: str
) -> None:
    logger, trainer, module, datamodule = parts.logger, parts.trainer, parts.module, parts.datamodule
    # The model holds the best weights here (Trainer.test loaded them): diagnose those.
    # Stopped by its epoch budget with the validation loss still falling: not done, not judged.
    improving = trainer.current_epoch >= trainer.max_epochs and still_improving(trainer.history)
    verdict, text = (
        bias_variance_report(module, datamodule, improving=improving) if outputs.diagnostics else ({}, "")
    )
    if verdict:
        log.info("%s", text)
        _write_and_record(logger, run_dir / "bias_variance.txt", text)
        logger.set_tags({"bias_variance": verdict["tag"]})
    figure_paths = make_figures(run_dir, trainer, module, datamodule) if outputs.figures else []
    record_run_files(logger, run_dir, trainer, figure_paths, checkpoints=outputs.checkpoints)
    if outputs.model and logger.records_model:
        model_config = parts.config["model"]
        shape = data_shape_arguments(str(model_config["_target_"]), datamodule)
        model_dir = package_model(run_dir, module, datamodule, model_config, shape_arguments=shape)
        if model_dir is not None:  # None: the data has no raw-row packaging (images, series, texts)
            result.model_uri = logger.log_model(model_dir, step=trainer.global_step)
    if outputs.diagnostics:  # a full record (not a sweep's light trial): the page tells the story
        checkpoint = trainer.checkpoint_callback
        monitor, score = _ranking(checkpoint)
        description = training_description(
            command=command,
            history=trainer.history,
            monitor=monitor,
            best_value=score,
            tested_checkpoint=checkpoint.best_model_path if checkpoint else "",
            metrics=result.metrics,
            verdict=f"{verdict['verdict']}; next step: {verdict['next_step']}" if verdict else "",
            model_uri=result.model_uri,
        )
        logger.set_tags({DESCRIPTION_TAG: description})


def _ranking(checkpoint: object) -> tuple[str | None, float | None]:
    """The metric the checkpoint callback ranks by and its best value (None, None if it says not)."""
    if isinstance(checkpoint, RanksCheckpoints):
        return checkpoint.monitor, checkpoint.best_model_score
    return None, None


def _write_metrics(path: Path, metrics: dict[str, float]) -> None:
    # JSON has no NaN: write null for undefined metrics (e.g. ROC-AUC of a one-class split).
    clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True))
