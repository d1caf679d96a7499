"""Which function runs each approach of the study (a sampler name runs the resampled MLP)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from trainer.fraud.network_approaches import run_network
from trainer.fraud.reference_approaches import (
    run_hgb,
    run_isolation_forest,
    run_knn,
    run_lof,
    run_logistic,
    run_pca,
)
from trainer.fraud.study_data import ApproachResult, StudyData
from trainer.tracking.base import Logger


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
        "autoencoder": run_network,
        "hgb": run_hgb,
        "logistic": run_logistic,
        "isolation_forest": run_isolation_forest,
        "lof": run_lof,
        "knn": run_knn,
        "pca": run_pca,
    }
    return special.get(name, run_network)
