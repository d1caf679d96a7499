"""Each approach of the study: what it trains on and how it scores a row.

Every approach gets the same :class:`StudyData` (one split, one fitted preprocessing) and
returns validation and test scores (higher = more suspicious); thresholds and metrics are
applied afterwards, the same way for all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from trainer.build import build_module_with
from trainer.data.feature_layout import FeatureLayout
from trainer.data.resample import SAMPLERS, Resampler
from trainer.engine import TrainingModule
from trainer.fraud.networks import ArraysDataModule, DenoisingAutoencoder, fit_network
from trainer.fraud.references import GradientBoostingReference, IsolationForestReference
from trainer.fraud.settings import FraudSettings
from trainer.tasks import BinaryObjective, ReconstructionObjective
from trainer.tracking.base import Logger, NullLogger

log = logging.getLogger(__name__)

Tensors = tuple[torch.Tensor, torch.Tensor]


@dataclass
class Resampled:
    """One sampler's training rows, and what its run records about them."""

    x: torch.Tensor
    y: torch.Tensor
    options: dict[str, Any]
    rows_before: int


@dataclass
class StudyData:
    """What every approach shares: the datamodule's splits and preprocessing, and the config."""

    cfg: DictConfig
    settings: FraudSettings
    resample: dict[str, dict[str, Any]]  # sampler name -> its resample/<name>.yaml values
    datamodule: Any
    layout: FeatureLayout
    frames: dict[str, pd.DataFrame]  # raw feature columns per split
    tensors: dict[str, Tensors]  # preprocessed (features, 0/1 labels) per split
    # Sampler name -> its training rows, made once (the study makes them before anything trains).
    resampled: dict[str, Resampled] = field(default_factory=dict)

    def labels(self, split: str) -> np.ndarray:
        return self.tensors[split][1].numpy().astype(np.int64)

    def resampled_rows(self, sampler: str) -> Resampled:
        """The training rows as ``sampler`` (with its ``resample/<name>.yaml`` values) resamples them.

        Raises:
            DataError: the sampler cannot resample this training split (the message says why).
        """
        if sampler not in self.resampled:
            options = self.resample.get(sampler, {})
            resampler = Resampler.from_options({**options, "name": sampler}, random_state=int(self.cfg.seed))
            x, y = self.tensors["train"]
            x_new, y_new = resampler.fit_resample(x.numpy(), y.numpy(), layout=self.layout)
            self.resampled[sampler] = Resampled(
                x=torch.from_numpy(x_new),
                y=torch.from_numpy(y_new),
                options=options,
                rows_before=sum(resampler.counts_before_.values()),
            )
        return self.resampled[sampler]

    def transform(self, frame: pd.DataFrame) -> torch.Tensor:
        return self.datamodule.transform(frame)

    @property
    def cardinalities(self) -> list[int]:
        """Width of each categorical one-hot block, in input order (what an embedding model embeds)."""
        return [len(positions) for positions in self.layout.groups.values()]


@dataclass
class ApproachResult:
    """Scores of one approach, and what explanations and the report need of it."""

    name: str
    family: str  # baseline, network, anomaly, reference
    val_scores: np.ndarray
    test_scores: np.ndarray
    sampler: str = ""
    score_frame: Callable[[pd.DataFrame], np.ndarray] | None = None  # raw rows -> scores
    feature_errors: Callable[[torch.Tensor], np.ndarray] | None = None  # autoencoder only
    params: dict[str, Any] = field(default_factory=dict)
    best_val_ap: float | None = None


def network_data(data: StudyData, train: Tensors, *, seed: int | None = None) -> ArraysDataModule:
    return ArraysDataModule(
        train=train,
        val=data.tensors["val"],
        test=data.tensors["test"],
        batch_size=int(data.cfg.data.batch_size),
        eval_batch_size=int(data.cfg.data.get("eval_batch_size", 4096)),
        seed=int(data.cfg.seed) if seed is None else seed,
        categorical_cardinalities=data.cardinalities,
    )


def _pos_weight(value: Any, labels: torch.Tensor) -> float | None:
    if value is None:
        return None
    if value == "balanced":
        positives = float(labels.sum())
        return (len(labels) - positives) / max(positives, 1.0)
    return float(value)


def run_classifier(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """The MLP on raw (``plain``), class-weighted (``weighted``) or resampled training rows."""
    x, y = data.tensors["train"]
    sampler = name if name in SAMPLERS else ""
    params: dict[str, Any] = {"approach": name, "sampler": sampler or "none"}
    if sampler:
        rows = data.resampled_rows(sampler)
        x, y = rows.x, rows.y
        params.update({f"resample.{k}": v for k, v in rows.options.items()})
        params.update({"train_rows_before": rows.rows_before, "train_rows_after": len(y)})
    pos_weight = _pos_weight(data.settings.pos_weight, y) if name == "weighted" else None
    params["pos_weight"] = pos_weight if pos_weight is not None else "none"
    params["ensemble"] = data.settings.ensemble
    members = []
    for member in range(data.settings.ensemble):
        # Members differ only in their seed (initial weights, dropout, batch order); averaging
        # their probabilities cancels much of one network's seed-to-seed spread in AP.
        seed = int(data.cfg.seed) + member
        torch.manual_seed(seed)
        networks = network_data(data, (x, y), seed=seed)
        # Built as trainer train builds (l1/l2 checks included), around this approach's objective.
        module = build_module_with(data.cfg, networks, BinaryObjective(pos_weight=pos_weight))
        # The child run records the first member's curves; the others would overwrite its steps.
        member_logger = logger if member == 0 else NullLogger()
        member_dir = run_dir if member == 0 else run_dir / f"member_{member}"
        members.append(
            fit_network(
                data.cfg,
                module,
                networks,
                run_dir=member_dir,
                logger=member_logger,
                patience=data.settings.patience,
            )
        )

    def scores(rows: torch.Tensor) -> np.ndarray:
        return np.mean([fitted.scores(rows) for fitted in members], axis=0)

    def score_frame(frame: pd.DataFrame) -> np.ndarray:
        return scores(data.transform(frame))

    val_aps = [m.best_val_ap for m in members if m.best_val_ap is not None]
    return ApproachResult(
        name=name,
        family="network",
        sampler=sampler,
        val_scores=scores(data.tensors["val"][0]),
        test_scores=scores(data.tensors["test"][0]),
        score_frame=score_frame,
        params=params,
        best_val_ap=float(np.mean(val_aps)) if val_aps else None,
    )


def autoencoder_module(data: StudyData) -> tuple[TrainingModule, ArraysDataModule]:
    """The autoencoder of ``fraud.autoencoder`` and its rows: normal training rows only."""
    x, y = data.tensors["train"]
    normal = x[y == 0]  # (normal rows, features): fraud never shapes what "normal" looks like
    settings = data.settings.autoencoder
    node = OmegaConf.create(settings.model)
    rows = network_data(data, (normal, torch.zeros(len(normal))))
    module = build_module_with(data.cfg, rows, ReconstructionObjective(), model_node=node)
    if settings.noise > 0:
        module.model = DenoisingAutoencoder(module.model, noise=settings.noise)
    return module, rows


def run_autoencoder(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """An autoencoder trained on normal training rows only; the score is the reconstruction error."""
    module, rows = autoencoder_module(data)
    settings = data.settings.autoencoder
    normal = rows.splits["train"][0]
    fitted = fit_network(
        data.cfg,
        module,
        rows,
        run_dir=run_dir,
        logger=logger,
        patience=data.settings.patience,
    )

    def feature_errors(rows: torch.Tensor) -> np.ndarray:
        # (rows, features): each feature's squared error, what the per-row score averages.
        return (fitted.outputs(rows) - rows).pow(2).numpy()

    def score_frame(frame: pd.DataFrame) -> np.ndarray:
        return fitted.scores(data.transform(frame))

    params = {"approach": name, "train_rows": len(normal), "noise": settings.noise}
    params.update({f"model.{k}": v for k, v in dict(settings.model).items() if k != "_target_"})
    return ApproachResult(
        name=name,
        family="anomaly",
        val_scores=fitted.scores(data.tensors["val"][0]),
        test_scores=fitted.scores(data.tensors["test"][0]),
        score_frame=score_frame,
        feature_errors=feature_errors,
        params=params,
        best_val_ap=fitted.best_val_ap,
    )


def run_hgb(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """HistGradientBoostingClassifier with native categories on the raw training columns."""
    options = data.settings.references
    model = GradientBoostingReference(
        numeric=data.datamodule.numeric_columns_,
        categorical=data.datamodule.categorical_columns_,
        max_iter=options.hgb_max_iter,
        learning_rate=options.hgb_learning_rate,
        random_state=int(data.cfg.seed),
    ).fit(data.frames["train"], data.labels("train"))
    return ApproachResult(
        name=name,
        family="reference",
        val_scores=model.score(data.frames["val"]),
        test_scores=model.score(data.frames["test"]),
        score_frame=model.score,
        params={
            "approach": name,
            "max_iter": options.hgb_max_iter,
            "learning_rate": options.hgb_learning_rate,
        },
    )


def run_isolation_forest(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """IsolationForest on the preprocessed features of normal training rows."""
    x, y = data.tensors["train"]
    trees = data.settings.references.isolation_forest_trees
    model = IsolationForestReference(n_estimators=trees, random_state=int(data.cfg.seed))
    model.fit(x[y == 0].numpy())
    return ApproachResult(
        name=name,
        family="anomaly",
        val_scores=model.score(data.tensors["val"][0].numpy()),
        test_scores=model.score(data.tensors["test"][0].numpy()),
        score_frame=lambda frame: model.score(data.transform(frame).numpy()),
        params={"approach": name, "n_estimators": trees},
    )


def run_no_skill(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """'Never fraud': every row gets the training fraud rate, so nothing ranks above anything."""
    rate = float(data.labels("train").mean())
    return ApproachResult(
        name=name,
        family="baseline",
        val_scores=np.full(len(data.labels("val")), rate),
        test_scores=np.full(len(data.labels("test")), rate),
        params={"approach": name, "train_fraud_rate": rate},
    )


Runner = Callable[..., ApproachResult]


def runner_for(name: str) -> Runner:
    """The function that runs approach ``name`` (a sampler name runs the resampled MLP)."""
    special: dict[str, Runner] = {
        "no_skill": run_no_skill,
        "autoencoder": run_autoencoder,
        "hgb": run_hgb,
        "isolation_forest": run_isolation_forest,
    }
    return special.get(name, run_classifier)
