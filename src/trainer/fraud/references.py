"""scikit-learn references on the same split, as strong as a practitioner would run them, so the
networks' numbers have something real to beat.

Classifier references (labels used):

- HistGradientBoostingClassifier on the raw columns, categories as native categorical features
  (ordinal codes fit on training rows). A few settings are tried, each grown to a generous
  ``max_iter``; the number of iterations and the settings with the best average precision on
  the study's validation rows are kept (early stopping on validation AP).
- LogisticRegression, class-weighted, on the preprocessed features, its C picked on validation AP.

Anomaly references, fitted on the preprocessed features of normal training rows only (labels
never reach the fit); each score is higher for odder rows:

- IsolationForest; LocalOutlierFactor (novelty); the distance to the k nearest normal rows;
  the reconstruction error of a PCA. LOF and kNN keep at most ``max_rows`` normal rows (a seeded
  sample), since their cost grows with the rows they keep.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

#: HGB bins a categorical feature into at most this many categories; wider ones go in as codes.
MAX_NATIVE_CATEGORIES = 255


def _ap(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision as ``average_precision_score`` gives it (tied scores share one
    threshold), without its input checks: HGB's search reads it after every iteration. 0 where
    it is undefined (no positive row)."""
    y = np.asarray(y)
    if not y.any():
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    ranked = np.asarray(scores)[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    tp = np.cumsum(y[order])[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


class GradientBoostingReference:
    """HGB with native categories, fit on the raw training columns, tuned on validation AP.

    Every pair of ``learning_rates`` x ``max_leaf_nodes`` grows up to ``max_iter`` trees (no
    internal early stopping, no subsampling: deterministic); its validation AP is read after every
    iteration (``staged_decision_function``), and it stops growing once ``patience`` iterations passed
    without a better one. The best pair and iteration count (fewer iterations among equals) is
    refit with ``max_iter`` = that count, which gives the same trees.

    Args:
        numeric: numeric column names.
        categorical: categorical column names.
        max_iter: the most iterations tried.
        learning_rates, max_leaf_nodes: the settings searched.
        patience: iterations without a better validation AP before a setting stops growing.
        random_state: seed.

    Attributes:
        encoder_: the ordinal encoding of the categorical columns (training rows only).
        model_: the kept classifier.
        best_: the chosen ``learning_rate``, ``max_leaf_nodes``, ``n_iter`` and ``val_ap``.
        search_: one dict per setting tried: its settings, best ``n_iter``, ``val_ap`` and the
            iterations it grew (``grown``).
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str],
        max_iter: int = 500,
        learning_rates: Sequence[float] = (0.05, 0.1),
        max_leaf_nodes: Sequence[int] = (15, 31),
        patience: int = 100,
        random_state: int | None = 0,
    ) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.max_iter = max_iter
        self.learning_rates = list(learning_rates)
        self.max_leaf_nodes = list(max_leaf_nodes)
        self.patience = patience
        self.random_state = random_state
        self.chunk = 50  # iterations grown between two looks at the validation AP

    def _encode_fit(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        parts: list[tuple[str, Any, list[str]]] = [("num", "passthrough", self.numeric)]
        if self.categorical:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
            )
            parts.append(("cat", encoder, self.categorical))
        self.encoder_ = ColumnTransformer(parts, remainder="drop")
        x = np.asarray(self.encoder_.fit_transform(frame))
        widths = (
            [len(c) for c in self.encoder_.named_transformers_["cat"].categories_] if self.categorical else []
        )
        mask = [False] * len(self.numeric) + [w <= MAX_NATIVE_CATEGORIES for w in widths]
        return x, (np.asarray(mask, dtype=bool) if any(mask) else None)

    def _model(
        self, categorical: np.ndarray | None, *, learning_rate: float, leaves: int, max_iter: int
    ) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            categorical_features=categorical,
            max_iter=max_iter,
            learning_rate=learning_rate,
            max_leaf_nodes=leaves,
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(
        self, frame: pd.DataFrame, y: np.ndarray, val_frame: pd.DataFrame, y_val: np.ndarray
    ) -> GradientBoostingReference:
        """Search on ``(val_frame, y_val)``, then keep the best model fit on ``(frame, y)``.

        It runs on one OpenMP thread: on tables of this size threads gain little, and while
        other processes keep the cores busy (the study's network workers, or anything else),
        OpenMP threads waiting for a core made the search 7 to 12 times slower (fraud_oracle,
        2 busy cores: 30-55 s against 4-5 s on one thread).
        """
        with threadpool_limits(limits=1, user_api="openmp"):
            return self._fit(frame, y, val_frame, y_val)

    def _fit(
        self, frame: pd.DataFrame, y: np.ndarray, val_frame: pd.DataFrame, y_val: np.ndarray
    ) -> GradientBoostingReference:
        x, categorical = self._encode_fit(frame)
        x_val = np.asarray(self.encoder_.transform(val_frame))
        y = np.asarray(y).astype(np.int64)
        self.search_: list[dict[str, Any]] = []
        for learning_rate, leaves in itertools.product(self.learning_rates, self.max_leaf_nodes):
            model = self._model(categorical, learning_rate=learning_rate, leaves=leaves, max_iter=0)
            model.set_params(warm_start=True)
            aps: list[float] = []
            # Grown a chunk at a time (warm start gives the trees one fit would), until max_iter
            # or `patience` iterations pass without a better validation AP.
            while len(aps) < self.max_iter and len(aps) - int(np.argmax(aps or [0.0])) <= self.patience:
                model.set_params(max_iter=min(len(aps) + self.chunk, self.max_iter)).fit(x, y)
                # The raw score ranks rows as the probability does (AP needs only the ranking).
                staged = itertools.islice(model.staged_decision_function(x_val), len(aps), None)
                aps += [_ap(y_val, raw) for raw in staged]
            best = int(np.argmax(aps))
            self.search_.append(
                {
                    "learning_rate": float(learning_rate),
                    "max_leaf_nodes": int(leaves),
                    "n_iter": best + 1,
                    "val_ap": aps[best],
                    "grown": len(aps),
                }
            )
        # The highest validation AP; among equals, fewer iterations, then the order tried.
        self.best_ = max(self.search_, key=lambda s: (s["val_ap"], -s["n_iter"]))
        self.model_ = self._model(
            categorical,
            learning_rate=self.best_["learning_rate"],
            leaves=self.best_["max_leaf_nodes"],
            max_iter=self.best_["n_iter"],
        ).fit(x, y)
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Fraud probability of raw feature rows."""
        return np.asarray(self.model_.predict_proba(self.encoder_.transform(frame))[:, 1])


class LogisticReference:
    """Class-weighted (``balanced``) logistic regression on preprocessed features, C picked on
    validation AP (the first of equals, in the order given).

    Attributes:
        model_: the kept model.
        best_c_, val_ap_: its C and validation AP.
        search_: C -> validation AP.
    """

    def __init__(self, *, cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0), max_iter: int = 1000) -> None:
        self.cs = list(cs)
        self.max_iter = max_iter

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> LogisticReference:
        self.search_: dict[float, float] = {}
        best: tuple[LogisticRegression, float, float] | None = None
        for c in self.cs:
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=self.max_iter)
            model.fit(x, np.asarray(y).astype(np.int64))
            ap = _ap(y_val, model.predict_proba(x_val)[:, 1])
            self.search_[float(c)] = ap
            if best is None or ap > best[2]:
                best = (model, float(c), ap)
        assert best is not None, "cs is empty"
        self.model_, self.best_c_, self.val_ap_ = best
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(x)[:, 1])


def sample_rows(x: np.ndarray, max_rows: int, random_state: int | None) -> np.ndarray:
    """At most ``max_rows`` rows of ``x`` (a seeded sample without replacement, in their order)."""
    if len(x) <= max_rows:
        return x
    keep = np.random.default_rng(random_state).choice(len(x), size=max_rows, replace=False)
    return x[np.sort(keep)]


class IsolationForestReference:
    """IsolationForest fit on normal training rows; the score is ``-score_samples`` (higher = odder).

    Args:
        n_estimators: trees.
        random_state: seed.
    """

    def __init__(self, *, n_estimators: int = 200, random_state: int | None = 0) -> None:
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, x_normal: np.ndarray) -> IsolationForestReference:
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)
        self.model_.fit(x_normal)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        return -np.asarray(self.model_.score_samples(x))


class LocalOutlierFactorReference:
    """LocalOutlierFactor (``novelty=True``) on at most ``max_rows`` normal rows; the score is
    ``-score_samples`` (higher = odder).

    Attributes:
        rows_: the normal rows it kept.
    """

    def __init__(
        self, *, n_neighbors: int = 20, max_rows: int = 20_000, random_state: int | None = 0
    ) -> None:
        self.n_neighbors = n_neighbors
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, x_normal: np.ndarray) -> LocalOutlierFactorReference:
        kept = sample_rows(x_normal, self.max_rows, self.random_state)
        self.rows_ = len(kept)
        self.model_ = LocalOutlierFactor(
            n_neighbors=max(1, min(self.n_neighbors, self.rows_ - 1)), novelty=True
        )
        self.model_.fit(kept)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        return -np.asarray(self.model_.score_samples(x))


class NearestNeighborsReference:
    """Mean Euclidean distance to the ``n_neighbors`` nearest of at most ``max_rows`` normal rows.

    Attributes:
        rows_: the normal rows it kept.
    """

    def __init__(self, *, n_neighbors: int = 5, max_rows: int = 20_000, random_state: int | None = 0) -> None:
        self.n_neighbors = n_neighbors
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, x_normal: np.ndarray) -> NearestNeighborsReference:
        kept = sample_rows(x_normal, self.max_rows, self.random_state)
        self.rows_ = len(kept)
        self.model_ = NearestNeighbors(n_neighbors=min(self.n_neighbors, self.rows_)).fit(kept)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        distances, _ = self.model_.kneighbors(x)
        return np.asarray(distances.mean(axis=1))


class PCAReference:
    """Reconstruction error (squared, summed over features) of a PCA fit on normal rows.

    It keeps the fewest components that explain ``variance`` of the normal rows' variance, and
    always fewer than the features (all of them would reconstruct every row exactly).

    Attributes:
        n_components_: the components kept.
        mean_, components_: the centre and the kept directions.
    """

    def __init__(self, *, variance: float = 0.9, random_state: int | None = 0) -> None:
        self.variance = variance
        self.random_state = random_state

    def fit(self, x_normal: np.ndarray) -> PCAReference:
        x_normal = np.asarray(x_normal, dtype=np.float64)
        full = PCA(svd_solver="full", random_state=self.random_state).fit(x_normal)
        explained = np.cumsum(full.explained_variance_ratio_)
        reached = int(np.searchsorted(explained, self.variance - 1e-12)) + 1
        self.n_components_ = max(1, min(reached, x_normal.shape[1] - 1, len(explained)))
        self.mean_ = full.mean_
        self.components_ = full.components_[: self.n_components_]
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        centred = np.asarray(x, dtype=np.float64) - self.mean_
        rebuilt = centred @ self.components_.T @ self.components_
        return np.asarray(((centred - rebuilt) ** 2).sum(axis=1))
