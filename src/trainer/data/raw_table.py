"""The raw table behind a datamodule's inputs, for whatever scores raw rows instead of tensors.

A model packaged with its preprocessing and the fraud study's tree reference read table rows
as loaded, not the preprocessed tensors; :meth:`DataModule.raw_table
<trainer.data.base.DataModule.raw_table>` hands them this view (None for data that is not a
table).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.compose import ColumnTransformer

from trainer.data.preprocessing import coerce_numeric


@dataclass(frozen=True)
class RawTable:
    """A table's raw rows per split and the preprocessing fitted on its training rows.

    Attributes:
        target: the target column.
        columns: the raw feature columns, in the order the preprocessor reads them.
        numeric: the numeric ones among them.
        categorical: the categorical (one-hot encoded) ones.
        preprocessor: the ColumnTransformer fitted on the training rows.
        splits: the rows of each split as loaded (target and left-out columns included).
    """

    target: str
    columns: list[str]
    numeric: list[str]
    categorical: list[str]
    preprocessor: ColumnTransformer
    splits: dict[str, pd.DataFrame]

    def features(self, split: str) -> pd.DataFrame:
        """The raw feature columns of a split, typed as the preprocessor expects them."""
        return coerce_numeric(self.splits[split][self.columns], self.numeric, self.categorical)

    def example(self, rows: int = 5) -> pd.DataFrame:
        """A few raw feature rows (test rows, or training rows when the test split is empty)."""
        sample = self.splits["test"] if len(self.splits["test"]) else self.splits["train"]
        return sample[self.columns].head(rows).reset_index(drop=True)
