"""What every approach of the study shares (:class:`StudyData`) and gives back (:class:`ApproachResult`).

Every approach gets the same :class:`StudyData` (one split, one fitted preprocessing) and
returns validation and test scores (higher = more suspicious); thresholds and metrics are
applied afterwards, the same way for all.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from trainer.data.feature_layout import FeatureLayout
from trainer.data.resample import Resampler
from trainer.fraud.member_fit import MemberJob
from trainer.fraud.member_pool import MemberPool
from trainer.fraud.settings import FraudSettings

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
    # Where the networks' members are fitted (None: in this process, one after another).
    pool: MemberPool | None = None
    # Network approach -> its members, their pending fits and its run's params, queued on the pool.
    pending: dict[str, tuple[list[MemberJob], list[Any], dict[str, Any]]] = field(default_factory=dict)
    # What each queued approach's fits depend on -> that approach and its pending fits.
    queued_fits: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)

    def queue(self, name: str, jobs: list[MemberJob], params: dict[str, Any]) -> None:
        """Queue the members of network approach ``name`` (fitted in this process without a pool).

        Members that would fit exactly what an approach queued earlier fits (the same rows, seeds
        and settings: a sampler that changed nothing another did not, as SMOTETomek when SMOTE's
        rows have no Tomek link) are not fitted twice: the approach takes the earlier one's fits
        (deterministic on a CPU, so the same networks) and its params name that approach.
        """
        key = fits_fingerprint(jobs)
        if key in self.queued_fits:
            twin, handles = self.queued_fits[key]
            log.info("%s trains on exactly the rows %s trains on: it shares %s's networks", name, twin, twin)
            self.pending[name] = (jobs, handles, {**params, "networks_of": twin})
            return
        pool = self.pool or MemberPool(workers=1)
        handles = [pool.submit(job) for job in jobs]
        self.queued_fits[key] = (name, handles)
        self.pending[name] = (jobs, handles, params)

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


def fits_fingerprint(jobs: list[MemberJob]) -> str:
    """A digest of everything the members' fits depend on (rows, seeds, settings; not the folder)."""
    digest = hashlib.sha256()
    for job in jobs:
        for tensor in (*job.train, *job.val):
            digest.update(tensor.contiguous().numpy().tobytes())
        settings = (job.kind, job.seed, job.patience, job.monitor, job.mode, job.pos_weight, job.noise)
        digest.update(repr((settings, job.cardinalities, job.model_node)).encode())
        digest.update(OmegaConf.to_yaml(job.cfg).encode())
    return digest.hexdigest()


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
