"""Data: sources that load tables, splits, train-only preprocessing, device-resident batches."""

from trainer.data.batches import TensorBatches
from trainer.data.sources import CsvSource, SklearnSource, SyntheticSource, TableSource
from trainer.data.tabular import TabularDataModule

__all__ = [
    "CsvSource",
    "SklearnSource",
    "SyntheticSource",
    "TableSource",
    "TabularDataModule",
    "TensorBatches",
]
