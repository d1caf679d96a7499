"""Where runs are recorded: the logger interface and its implementations."""

from trainer.tracking.base import Logger, NullLogger
from trainer.tracking.csv_logger import CSVLogger
from trainer.tracking.mlflow_logger import MLflowLogger

__all__ = ["CSVLogger", "Logger", "MLflowLogger", "NullLogger"]
