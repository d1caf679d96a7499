"""What every approach of the study shares (:class:`StudyData`) and gives back (:class:`ApproachResult`).

Every approach gets the same :class:`StudyData` (one split, one fitted preprocessing) and
returns validation and test scores (higher = more suspicious); thresholds and metrics are
applied afterwards, the same way for all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from trainer.data.feature_layout import FeatureLayout
from trainer.data.resample import Resampler
from trainer.fraud.member_fit import MemberJob
from trainer.fraud.member_pool import MemberPool
from trainer.fraud.settings import FraudSettings

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
    # Where the networks' members are fitted (None: in this process, one after another).
    pool: MemberPool | None = None
    # Network approach -> its members, their pending fits and its run's params, queued on the pool.
    pending: dict[str, tuple[list[MemberJob], list[Any], dict[str, Any]]] = field(default_factory=dict)

    def queue(self, name: str, jobs: list[MemberJob], params: dict[str, Any]) -> None:
        """Queue the members of network approach ``name`` (fitted in this process without a pool)."""
        pool = self.pool or MemberPool(workers=1)
        self.pending[name] = (jobs, [pool.submit(job) for job in jobs], params)

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
    best_score: float | None = None  # networks: the members' mean best validation score
    selected_on: str = ""  # networks: what picked each member's checkpoint (val_ap, normal_loss)
