"""Where runs are recorded: the logger interface and its implementations."""

from trainer.tracking.base import Logger, NullLogger
from trainer.tracking.csv_logger import CSVLogger

__all__ = ["CSVLogger", "Logger", "NullLogger"]
