"""Where a table comes from: scikit-learn's bundled sets, our generator, or a CSV file.

Every source returns a pandas DataFrame with the target as a column, and describes itself
(name and location) so trackers can record which data a run used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets

from trainer.errors import ConfigError, DataError

SKLEARN_SETS = {
    "breast_cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}


class TableSource(ABC):
    """Loads one table."""

    @abstractmethod
    def load(self) -> pd.DataFrame:
        """The whole table, target included."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """``name`` and ``source`` (a path or a short URI-like string)."""


class SklearnSource(TableSource):
    """One of scikit-learn's bundled sets (no download): breast_cancer, digits, wine, diabetes.

    The target column is named ``target``.
    """

    def __init__(self, *, name: str) -> None:
        if name not in SKLEARN_SETS:
            raise ConfigError(
                f"data.source.name={name!r} is not a bundled set; choose one of {', '.join(SKLEARN_SETS)}."
            )
        self.name = name

    def load(self) -> pd.DataFrame:
        bunch = SKLEARN_SETS[self.name](as_frame=True)
        frame: pd.DataFrame = bunch.frame.copy()
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        return frame

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": f"sklearn.datasets.load_{self.name}"}


class SyntheticSource(TableSource):
    """A generated table: classification (any class balance) or regression.

    Args:
        kind: ``classification`` or ``regression``.
        n_samples, n_features, n_informative: table shape and signal.
        n_classes: classes for classification.
        weights: class proportions, e.g. ``[0.95, 0.05]`` for an imbalanced target.
        n_categorical: how many of the features to turn into text categories (quantile bins),
            so the categorical path of preprocessing is exercised too.
        noise: label noise (flip fraction) for classification, Gaussian noise for regression.
        random_state: seed of the generator.
    """

    def __init__(
        self,
        *,
        kind: str = "classification",
        n_samples: int = 2000,
        n_features: int = 20,
        n_informative: int = 8,
        n_classes: int = 2,
        weights: list[float] | None = None,
        n_categorical: int = 0,
        noise: float = 0.01,
        random_state: int = 0,
    ) -> None:
        if kind not in ("classification", "regression"):
            raise ConfigError(f"data.source.kind={kind!r}; choose 'classification' or 'regression'.")
        if not 0 <= n_categorical <= n_features:
            raise ConfigError(f"data.source.n_categorical={n_categorical} must be in [0, n_features].")
        self.kind = kind
        self.n_samples = n_samples
        self.n_features = n_features
        self.n_informative = min(n_informative, n_features)
        self.n_classes = n_classes
        self.weights = list(weights) if weights is not None else None
        self.n_categorical = n_categorical
        self.noise = noise
        self.random_state = random_state

    def load(self) -> pd.DataFrame:
        if self.kind == "classification":
            x, y = datasets.make_classification(
                n_samples=self.n_samples,
                n_features=self.n_features,
                n_informative=self.n_informative,
                n_redundant=0,
                n_classes=self.n_classes,
                weights=self.weights,
                flip_y=self.noise,
                random_state=self.random_state,
            )
        else:
            x, y = datasets.make_regression(
                n_samples=self.n_samples,
                n_features=self.n_features,
                n_informative=self.n_informative,
                noise=self.noise,
                random_state=self.random_state,
            )
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(self.n_features)])
        for i in range(self.n_features - self.n_categorical, self.n_features):
            bins = pd.qcut(frame[f"x{i}"], q=4, labels=["a", "b", "c", "d"])
            frame[f"x{i}"] = bins.astype(str)
            frame = frame.rename(columns={f"x{i}": f"cat{i}"})
        frame["target"] = y if self.kind == "regression" else y.astype(np.int64)
        return frame

    def describe(self) -> dict[str, Any]:
        return {
            "name": f"synthetic_{self.kind}",
            "source": f"synthetic://{self.kind}?n={self.n_samples}&seed={self.random_state}",
        }


class CsvSource(TableSource):
    """A CSV file read with pandas.

    Args:
        path: the file (relative paths are taken from the directory you run in).
        sep: column separator.
    """

    def __init__(self, *, path: str, sep: str = ",") -> None:
        if not path:
            raise ConfigError("data.source.path is empty; pass data.source.path=/path/to/file.csv.")
        self.path = Path(path).expanduser()
        self.sep = sep

    def load(self) -> pd.DataFrame:
        where = f"data.source.path={str(self.path)!r}"
        if not self.path.exists():
            raise DataError(f"{where} does not exist; check the path (it is read from {Path.cwd()}).")
        if self.path.is_dir():
            raise DataError(f"{where} is a folder; pass the CSV file inside it.")
        if self.path.stat().st_size == 0:
            raise DataError(f"{where} is an empty file; it needs a header row and data rows.")
        try:
            frame = pd.read_csv(self.path, sep=self.sep)
        except pd.errors.EmptyDataError:
            raise DataError(f"{where} has no columns; it needs a header row and data rows.") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            reason = " ".join(str(exc).split())  # pandas ends its message with a newline: keep one line
            raise DataError(f"{where} could not be parsed as CSV: {reason}. Check data.source.sep.") from exc
        if frame.empty:
            raise DataError(f"{where} has a header but no data rows.")
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame

    def describe(self) -> dict[str, Any]:
        return {"name": self.path.stem, "source": str(self.path.resolve())}
