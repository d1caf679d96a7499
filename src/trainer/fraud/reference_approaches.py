"""The scikit-learn reference approaches, fitted on the study's training rows and preprocessing.

``hgb`` and ``logistic`` (family ``reference``) pick their settings on the validation rows;
``isolation_forest``, ``lof``, ``knn`` and ``pca`` (family ``anomaly``) are fit on the
preprocessed features of the normal training rows alone. Every one is seeded from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trainer.fraud.references import (
    GradientBoostingReference,
    IsolationForestReference,
    LocalOutlierFactorReference,
    LogisticReference,
    NearestNeighborsReference,
    PCAReference,
)
from trainer.fraud.study_data import ApproachResult, StudyData
from trainer.tracking.base import Logger


class _AnomalyModel(Protocol):
    def fit(self, x_normal: np.ndarray) -> Any: ...

    def score(self, x: np.ndarray) -> np.ndarray: ...


def run_hgb(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """HistGradientBoostingClassifier with native categories on the raw training columns, its
    iterations and settings picked on validation AP."""
    options = data.settings.references
    model = GradientBoostingReference(
        numeric=data.datamodule.numeric_columns_,
        categorical=data.datamodule.categorical_columns_,
        max_iter=options.hgb_max_iter,
        learning_rates=options.hgb_learning_rates,
        max_leaf_nodes=options.hgb_max_leaf_nodes,
        patience=options.hgb_patience,
        random_state=int(data.cfg.seed),
    ).fit(data.frames["train"], data.labels("train"), data.frames["val"], data.labels("val"))
    return ApproachResult(
        name=name,
        family="reference",
        val_scores=model.score(data.frames["val"]),
        test_scores=model.score(data.frames["test"]),
        score_frame=model.score,
        params={
            "approach": name,
            "max_iter": options.hgb_max_iter,
            "patience": options.hgb_patience,
            "learning_rates": list(options.hgb_learning_rates),
            "max_leaf_nodes_tried": list(options.hgb_max_leaf_nodes),
            "selected_by": "validation AP",
            "learning_rate": model.best_["learning_rate"],
            "max_leaf_nodes": model.best_["max_leaf_nodes"],
            "n_iter": model.best_["n_iter"],
            "search_val_ap": ", ".join(
                f"lr={s['learning_rate']:g} leaves={s['max_leaf_nodes']}: "
                f"{s['val_ap']:.4f} at {s['n_iter']} of {s['grown']}"
                for s in model.search_
            ),
        },
    )


def run_logistic(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """Class-weighted logistic regression on the preprocessed features, C picked on validation AP."""
    options = data.settings.references
    x, y = data.tensors["train"]
    model = LogisticReference(cs=options.logistic_c, max_iter=options.logistic_max_iter).fit(
        x.numpy(), y.numpy(), data.tensors["val"][0].numpy(), data.labels("val")
    )
    return ApproachResult(
        name=name,
        family="reference",
        val_scores=model.score(data.tensors["val"][0].numpy()),
        test_scores=model.score(data.tensors["test"][0].numpy()),
        score_frame=lambda frame: model.score(data.transform(frame).numpy()),
        params={
            "approach": name,
            "class_weight": "balanced",
            "c_tried": list(options.logistic_c),
            "selected_by": "validation AP",
            "C": model.best_c_,
            "max_iter": options.logistic_max_iter,
            "n_iter": int(model.model_.n_iter_.max()),
        },
    )


def _anomaly_result(
    data: StudyData, name: str, model: _AnomalyModel, params: Callable[[], dict[str, Any]]
) -> ApproachResult:
    """Fit ``model`` on the normal training rows' features (no label reaches it) and score."""
    model.fit(normal_training_rows(data))
    return ApproachResult(
        name=name,
        family="anomaly",
        val_scores=model.score(data.tensors["val"][0].numpy()),
        test_scores=model.score(data.tensors["test"][0].numpy()),
        score_frame=lambda frame: model.score(data.transform(frame).numpy()),
        params={"approach": name, "fit_on": "normal training rows", **params()},
    )


def normal_training_rows(data: StudyData) -> np.ndarray:
    """The preprocessed features of the training rows labelled normal (what anomaly references fit)."""
    x, y = data.tensors["train"]
    return x[y == 0].numpy()


def run_isolation_forest(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """IsolationForest on the preprocessed features of normal training rows."""
    trees = data.settings.references.isolation_forest_trees
    model = IsolationForestReference(n_estimators=trees, random_state=int(data.cfg.seed))
    return _anomaly_result(data, name, model, lambda: {"n_estimators": trees})


def run_lof(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """LocalOutlierFactor (novelty) on at most ``neighbors_max_rows`` normal training rows."""
    options = data.settings.references
    model = LocalOutlierFactorReference(
        n_neighbors=options.lof_neighbors,
        max_rows=options.neighbors_max_rows,
        random_state=int(data.cfg.seed),
    )
    return _anomaly_result(
        data,
        name,
        model,
        lambda: {
            "n_neighbors": model.model_.n_neighbors_,
            "max_rows": options.neighbors_max_rows,
            "rows_fit": model.rows_,
            "subsampled": model.rows_ < len(normal_training_rows(data)),
        },
    )


def run_knn(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """Mean distance to the nearest normal training rows (at most ``neighbors_max_rows`` of them)."""
    options = data.settings.references
    model = NearestNeighborsReference(
        n_neighbors=options.knn_neighbors,
        max_rows=options.neighbors_max_rows,
        random_state=int(data.cfg.seed),
    )
    return _anomaly_result(
        data,
        name,
        model,
        lambda: {
            "n_neighbors": options.knn_neighbors,
            "distance": "mean euclidean to the k nearest",
            "max_rows": options.neighbors_max_rows,
            "rows_fit": model.rows_,
            "subsampled": model.rows_ < len(normal_training_rows(data)),
        },
    )


def run_pca(data: StudyData, name: str, *, run_dir: Path, logger: Logger) -> ApproachResult:
    """Reconstruction error of a PCA fit on normal training rows."""
    variance = data.settings.references.pca_variance
    model = PCAReference(variance=variance, random_state=int(data.cfg.seed))
    return _anomaly_result(
        data,
        name,
        model,
        lambda: {
            "variance": variance,
            "n_components": model.n_components_,
            "n_features": int(data.tensors["train"][0].shape[1]),
        },
    )
