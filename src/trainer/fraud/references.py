"""scikit-learn references on the same split, so the networks' numbers have something to beat.

- HistGradientBoostingClassifier on the raw columns, categories as native categorical
  features (ordinal codes fit on training rows), the strongest plain tabular baseline.
- IsolationForest on the preprocessed features of normal training rows, the classic
  unsupervised anomaly detector to compare the autoencoder with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.preprocessing import OrdinalEncoder

#: HGB bins a categorical feature into at most this many categories; wider ones go in as codes.
MAX_NATIVE_CATEGORIES = 255


class GradientBoostingReference:
    """HGB with native categories, fit on the raw training columns.

    Args:
        numeric: numeric column names.
        categorical: categorical column names.
        max_iter, learning_rate: passed to HistGradientBoostingClassifier.
        random_state: seed.

    Attributes:
        encoder_: the ordinal encoding of the categorical columns (training rows only).
        model_: the fitted classifier.
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str],
        max_iter: int = 200,
        learning_rate: float = 0.1,
        random_state: int | None = 0,
    ) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> GradientBoostingReference:
        parts = [("num", "passthrough", self.numeric)]
        if self.categorical:
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
            )
            parts.append(("cat", encoder, self.categorical))
        self.encoder_ = ColumnTransformer(parts, remainder="drop")
        x = self.encoder_.fit_transform(frame)
        widths = (
            [len(c) for c in self.encoder_.named_transformers_["cat"].categories_] if self.categorical else []
        )
        mask = [False] * len(self.numeric) + [w <= MAX_NATIVE_CATEGORIES for w in widths]
        self.model_ = HistGradientBoostingClassifier(
            categorical_features=np.asarray(mask, dtype=bool) if any(mask) else None,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            random_state=self.random_state,
        )
        self.model_.fit(x, np.asarray(y).astype(np.int64))
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Fraud probability of raw feature rows."""
        return np.asarray(self.model_.predict_proba(self.encoder_.transform(frame))[:, 1])


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
