"""How much can any unsupervised score find on a fraud table? The ceiling the autoencoder works under.

Fits classic anomaly detectors on the normal training rows of the study's own split and
preprocessing (the ones `trainer fraud` gives its autoencoder and IsolationForest), and prints
the test average precision and ROC-AUC of each next to no-skill. When every detector sits near
no-skill, fraud rows do not look unusual among normal ones, and no reconstruction error can
rank them well either: the signal is only reachable with labels.

    .venv/bin/python scripts/probe_fraud_anomaly.py [overrides ...]
    .venv/bin/python scripts/probe_fraud_anomaly.py data=fraud_oracle
    .venv/bin/python scripts/probe_fraud_anomaly.py data=fraud_oracle data.split=stratified \
        data.val_fraction=0.2 data.test_fraction=0.2 seed=0
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

Detector = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (normal training rows, rows) -> scores


def rarity(frame_normal: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """Sum over columns of -log(frequency of the row's value among normal training rows)."""
    score = np.zeros(len(frame))
    for column in frame.columns:
        frequency = frame_normal[column].value_counts(normalize=True)
        seen = frame[column].map(frequency).astype(float).fillna(1.0 / (len(frame_normal) + 1))
        score += -np.log(seen.to_numpy())
    return score


def isolation_forest(seed: int) -> Detector:
    """The study's IsolationForest reference (200 trees, the run's seed)."""

    def detector(normal: np.ndarray, x: np.ndarray) -> np.ndarray:
        return -IsolationForest(n_estimators=200, random_state=seed).fit(normal).score_samples(x)

    return detector


def local_outlier_factor(normal: np.ndarray, x: np.ndarray) -> np.ndarray:
    return -LocalOutlierFactor(n_neighbors=35, novelty=True).fit(normal).score_samples(x)


def nearest_neighbour_distance(normal: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.asarray(NearestNeighbors(n_neighbors=5).fit(normal).kneighbors(x)[0].mean(axis=1))


def pca_reconstruction(components: int) -> Detector:
    """A linear autoencoder: the squared error of a rank-``components`` reconstruction."""

    def detector(normal: np.ndarray, x: np.ndarray) -> np.ndarray:
        pca = PCA(components, random_state=0).fit(normal)
        return np.asarray(((pca.inverse_transform(pca.transform(x)) - x) ** 2).mean(axis=1))

    return detector


def main(overrides: list[str]) -> int:
    from trainer.config.compose import compose_config
    from trainer.fraud.study import load_study_data, split_config

    logging.basicConfig(level=logging.WARNING)
    composed = compose_config(["logger=none", *overrides], config_name="fraud")
    cfg, settings, resample = split_config(composed.cfg)
    data = load_study_data(cfg, settings, resample)
    x_train, y_train = (t.numpy() for t in data.tensors["train"])
    normal = x_train[y_train == 0]
    x_test, y_test = data.tensors["test"][0].numpy(), data.labels("test")
    frame_normal = data.frames["train"][y_train == 0]

    scores: dict[str, np.ndarray] = {
        "rarity (per-column frequency)": rarity(frame_normal, data.frames["test"])
    }
    detectors: dict[str, Detector] = {
        "isolation forest": isolation_forest(int(cfg.seed)),
        "local outlier factor": local_outlier_factor,
        "5-nearest-neighbour distance": nearest_neighbour_distance,
        **{f"PCA reconstruction, {k} components": pca_reconstruction(k) for k in (4, 8, 16)},
    }
    for name, detector in detectors.items():
        scores[name] = detector(normal, x_test)
    no_skill = float(y_test.mean())
    print(f"test rows {len(y_test)}, fraud {int(y_test.sum())}; no-skill AP {no_skill:.4f}")
    print(f"{'detector (fit on normal training rows)':42s} {'AP':>7s} {'xNoSkill':>9s} {'ROC-AUC':>8s}")
    for name, score in scores.items():
        ap = float(average_precision_score(y_test, score))
        print(f"{name:42s} {ap:7.4f} {ap / no_skill:9.2f} {roc_auc_score(y_test, score):8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
