"""Where each preprocessed feature comes from: raw column per output column, one-hot groups.

The datamodule's ColumnTransformer turns raw columns into scaled numbers and one-hot blocks.
Explanations need the way back (output column -> raw column), and SMOTENC needs the one-hot
blocks folded into one code per categorical column and unfolded again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer


@dataclass(frozen=True)
class FeatureLayout:
    """The layout of a fitted preprocessor's output.

    Attributes:
        raw_columns: the raw column of each output column (one-hot columns repeat their column).
        numeric: output positions of the numeric (scaled) columns.
        groups: raw categorical column -> output positions of its one-hot block.
    """

    raw_columns: list[str]
    numeric: list[int]
    groups: dict[str, list[int]]

    @classmethod
    def from_preprocessor(cls, preprocessor: ColumnTransformer) -> FeatureLayout:
        """Read the layout from the datamodule's fitted ``preprocessor_`` (``num`` and ``cat`` parts)."""
        width = len(preprocessor.get_feature_names_out())
        raw: list[str] = [""] * width
        numeric: list[int] = []
        groups: dict[str, list[int]] = {}
        for name, transformer, columns in preprocessor.transformers_:
            if name == "remainder" or transformer == "drop":
                continue
            block = preprocessor.output_indices_[name]
            positions = list(range(block.start, block.stop))
            if name == "cat":
                encoder = transformer.named_steps["onehot"]
                start = 0
                for column, categories in zip(columns, encoder.categories_, strict=True):
                    part = positions[start : start + len(categories)]
                    groups[str(column)] = part
                    for p in part:
                        raw[p] = str(column)
                    start += len(categories)
            else:
                numeric.extend(positions)
                for p, column in zip(positions, columns, strict=True):
                    raw[p] = str(column)
        return cls(raw_columns=raw, numeric=numeric, groups=groups)

    def fold(self, x: np.ndarray) -> np.ndarray:
        """``(rows, width)`` -> ``(rows, numeric + groups)``: numbers, then one integer code per group."""
        codes = [np.argmax(x[:, positions], axis=1) for positions in self.groups.values()]
        return np.column_stack([x[:, self.numeric], *codes]) if codes else x[:, self.numeric]

    def unfold(self, folded: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`fold`: codes back into one-hot blocks at their original positions."""
        out = np.zeros((len(folded), len(self.raw_columns)), dtype=np.float32)
        out[:, self.numeric] = folded[:, : len(self.numeric)]
        for offset, positions in enumerate(self.groups.values()):
            codes = folded[:, len(self.numeric) + offset].round().astype(np.int64)
            out[np.arange(len(folded)), np.asarray(positions)[codes]] = 1.0
        return out

    @property
    def folded_categorical(self) -> list[int]:
        """Positions of the integer codes in the folded matrix (SMOTENC's ``categorical_features``)."""
        return list(range(len(self.numeric), len(self.numeric) + len(self.groups)))

    def per_column(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Sum ``(rows, width)`` values over the output columns of each raw column."""
        result: dict[str, np.ndarray] = {}
        for position, column in enumerate(self.raw_columns):
            result[column] = result.get(column, 0.0) + values[:, position]
        return result
