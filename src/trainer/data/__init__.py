"""Data: tables, images, series windows and texts; splits, train-only preprocessing, batches."""

from trainer.data.augment import ImageAugment
from trainer.data.base import DataModule
from trainer.data.batches import TensorBatches
from trainer.data.images import ImageDataModule
from trainer.data.sequences import JenaClimateCsv, SequenceDataModule, TemperatureSynthetic
from trainer.data.sources import CsvSource, SklearnSource, SyntheticSource, TableSource
from trainer.data.tabular import TabularDataModule
from trainer.data.text import TextDataModule

__all__ = [
    "CsvSource",
    "DataModule",
    "ImageAugment",
    "ImageDataModule",
    "JenaClimateCsv",
    "SequenceDataModule",
    "SklearnSource",
    "SyntheticSource",
    "TableSource",
    "TabularDataModule",
    "TemperatureSynthetic",
    "TensorBatches",
    "TextDataModule",
]
