"""One network of an approach's ensemble, as a self-contained job: built, fitted, its best weights.

A :class:`MemberJob` holds everything the fit needs (config, tensors, seed, what to monitor), all
picklable, so the same function :func:`fit_member` runs in the study's process or in a worker
process of :class:`~trainer.fraud.member_pool.MemberPool`, with the same result. The member that
records the approach's curves fits against a :class:`RecordingLogger`; the study replays its
records into the approach's MLflow run, so a worker process never opens a tracking store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from trainer.build import build_module_with
from trainer.engine import TrainingModule
from trainer.engine.seed import seed_everything
from trainer.fraud.networks import ArraysDataModule, DenoisingAutoencoder, fit_network
from trainer.tasks import BinaryObjective, ReconstructionObjective
from trainer.tracking.base import Logger, NullLogger

Tensors = tuple[torch.Tensor, torch.Tensor]


@dataclass
class MemberJob:
    """One ensemble member to fit.

    Attributes:
        kind: ``classifier`` (a :class:`~trainer.tasks.BinaryObjective`) or ``autoencoder``
            (a :class:`~trainer.tasks.ReconstructionObjective` around ``model_node``).
        train, val: the rows it trains on and the rows it is early-stopped and checkpointed on.
        monitor, mode: the validation metric that stops it and picks its checkpoint.
        seed: seeds everything before the network is built (weights, dropout, batch order).
        run_dir: its run folder (checkpoints).
        record: whether its logger calls are recorded for the approach's run.
    """

    kind: str
    cfg: DictConfig
    train: Tensors
    val: Tensors
    seed: int
    run_dir: Path
    patience: int
    monitor: str
    mode: str
    cardinalities: list[int] = field(default_factory=list)
    pos_weight: float | None = None
    model_node: dict[str, Any] | None = None
    noise: float = 0.0
    record: bool = False


@dataclass
class MemberFit:
    """What a fitted member gives back: its best weights and what its run records."""

    state: dict[str, torch.Tensor]
    best_score: float | None
    best_checkpoint: str
    epochs: int
    records: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)


class RecordingLogger(NullLogger):
    """Keeps every params, tags, metrics and file call, to replay them on a real logger later."""

    def __init__(self) -> None:
        self.records: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.records.append(("log_hyperparams", (dict(params),), {}))

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.records.append(("set_tags", (dict(tags),), {}))

    def log_metrics(self, metrics: dict[str, float], *, step: int) -> None:
        self.records.append(("log_metrics", (dict(metrics),), {"step": step}))

    def log_artifact(self, path: str | Path, *, artifact_path: str | None = None) -> None:
        self.records.append(("log_artifact", (str(path),), {"artifact_path": artifact_path}))


def replay(records: list[tuple[str, tuple[Any, ...], dict[str, Any]]], logger: Logger) -> None:
    """Make on ``logger`` the calls a :class:`RecordingLogger` kept, in their order."""
    for method, args, kwargs in records:
        getattr(logger, method)(*args, **kwargs)


def member_data(job: MemberJob) -> ArraysDataModule:
    """The member's rows as a datamodule (batch order seeded by the member's seed)."""
    return ArraysDataModule(
        train=job.train,
        val=job.val,
        test=job.val,  # a member is only fitted and validated here; the study scores test rows
        batch_size=int(job.cfg.data.batch_size),
        eval_batch_size=int(job.cfg.data.get("eval_batch_size", 4096)),
        seed=job.seed,
        categorical_cardinalities=job.cardinalities,
    )


def member_module(job: MemberJob, rows: ArraysDataModule) -> TrainingModule:
    """The member's network, built as ``trainer train`` builds (checks included)."""
    if job.kind == "classifier":
        return build_module_with(job.cfg, rows, BinaryObjective(pos_weight=job.pos_weight))
    node = OmegaConf.create(job.model_node)
    module = build_module_with(job.cfg, rows, ReconstructionObjective(), model_node=node)
    if job.noise > 0:
        module.model = DenoisingAutoencoder(module.model, noise=job.noise)
    return module


def fit_member(job: MemberJob) -> MemberFit:
    """Build and fit one member from its seed; its best checkpoint's weights come back."""
    seed_everything(job.seed)
    rows = member_data(job)
    module = member_module(job, rows)
    logger: Logger = RecordingLogger() if job.record else NullLogger()
    fitted = fit_network(
        job.cfg,
        module,
        rows,
        run_dir=job.run_dir,
        logger=logger,
        patience=job.patience,
        monitor=job.monitor,
        mode=job.mode,
    )
    state = {name: tensor.detach().cpu() for name, tensor in module.model.state_dict().items()}
    return MemberFit(
        state=state,
        best_score=fitted.best_score,
        best_checkpoint=fitted.best_checkpoint,
        epochs=int(fitted.trainer.current_epoch),
        records=logger.records if isinstance(logger, RecordingLogger) else [],
    )


def fitted_module(job: MemberJob, fit: MemberFit) -> TrainingModule:
    """The member's network rebuilt in this process with the fitted weights, in eval mode."""
    module = member_module(job, member_data(job))
    module.model.load_state_dict(fit.state)
    module.eval()
    return module
