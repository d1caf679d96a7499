"""Which task a target column implies when the data says ``task: auto``."""

from __future__ import annotations

import pandas as pd

from trainer.tasks.binary import BinaryObjective
from trainer.tasks.multiclass import MulticlassObjective
from trainer.tasks.regression import RegressionObjective

#: ``data.task`` / ``objective.name`` value that asks for the task the data implies.
AUTO_TASK = "auto"
#: An integer target with at most this many values is read as classes, not as a quantity.
MAX_CLASSES_FOR_AUTO = 50


def infer_task(target: pd.Series) -> str:
    """The task a target column implies.

    Binary for two values; multiclass for text labels or a few integers; else regression.

    Args:
        target: the target column (missing values are ignored).

    Returns:
        A task name of :data:`trainer.tasks.OBJECTIVES`.
    """
    values = target.dropna().unique()
    if len(values) == 2:
        return BinaryObjective.name
    if not pd.api.types.is_numeric_dtype(target):
        return MulticlassObjective.name  # text labels are classes however many there are
    if pd.api.types.is_integer_dtype(target) and len(values) <= MAX_CLASSES_FOR_AUTO:
        return MulticlassObjective.name
    return RegressionObjective.name
