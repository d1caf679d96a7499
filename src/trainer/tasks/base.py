"""The interface every objective follows.

An objective owns everything that is particular to its task, so adding a task is one new
file here plus its conf: the loss, the metrics and their directions, the default monitored
metric, how the target column becomes labels, the network's output width, the figures of a
finished run and the columns of the packaged model's predictions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from trainer.errors import DataError

#: Metric names (without stage prefix) that are better when lower, for every objective.
LOWER_IS_BETTER = frozenset({"loss", "mse", "mae", "rmse"})


class Objective(ABC):
    """Loss, predictions and metrics for one kind of task.

    ``loss`` runs on every batch and must stay cheap; ``metrics`` runs once per evaluation
    on all outputs of the split, on the CPU.
    """

    name: ClassVar[str] = "objective"
    #: metric that the default checkpoint and early stopping watch, with its direction.
    default_monitor: ClassVar[tuple[str, str]] = ("loss", "min")
    #: the target holds classes (labels are class codes) rather than continuous values.
    needs_classes: ClassVar[bool] = True
    #: the network's outputs predict the target's classes (a classifier; text data and the
    #: fraud study need one), rather than a quantity or the input itself.
    predicts_classes: ClassVar[bool] = False
    #: how many classes the target must have (2 for binary); None: as many as the data holds.
    fixed_classes: ClassVar[int | None] = None
    #: split the rows stratified by label when the data asks for a stratified split.
    stratify: ClassVar[bool] = True
    #: the metric that is this task's error for the bias/variance verdict (a higher-is-better
    #: metric m counts as error 1 - m); None: the task gets no verdict.
    error_metric: ClassVar[str | None] = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_options(cls, options: dict[str, Any], *, train_labels: torch.Tensor) -> Objective:
        """Build from the ``objective`` config section (keys this objective does not use are ignored).

        Args:
            options: the ``objective`` section as a plain dict.
            train_labels: the training split's labels, for options computed from data.
        """
        return cls()

    @classmethod
    def encode_labels(cls, target: pd.Series, *, column: str, where: str) -> tuple[np.ndarray, list[Any]]:
        """The target column as label codes, and the classes in code order.

        Raises:
            DataError: the column cannot serve as this task's target.
        """
        classes = sorted(target.unique().tolist(), key=str)
        if len(classes) < 2:
            raise DataError(
                f"data.target={column!r} in {where} has a single class ({classes[0]!r}); a "
                "classifier needs at least two. Check the target column or the rows kept."
            )
        lookup = {value: code for code, value in enumerate(classes)}
        return target.map(lookup).to_numpy(dtype=np.int64), classes

    def output_size(self, *, num_features: int, num_classes: int) -> int:
        """How many outputs the network needs."""
        return max(num_classes, 1)

    # ------------------------------------------------------------------ training
    def targets(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """What the loss compares the outputs with: the labels, or the inputs for autoencoders."""
        return labels

    def evaluation_outputs(self, outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """What evaluation keeps of each batch's outputs (autoencoders keep per-row errors)."""
        return outputs

    @abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch."""

    @abstractmethod
    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """What a user gets back from evaluation outputs: probabilities, values or per-row errors."""

    @abstractmethod
    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """Scalar metrics of a whole split from evaluation outputs and labels, without stage prefix."""

    @classmethod
    def direction(cls, metric: str) -> str:
        """``min`` or ``max``: which way ``metric`` (with or without stage prefix) improves."""
        name = metric.rsplit("/", 1)[-1]
        return "min" if name in LOWER_IS_BETTER or name.endswith("loss") else "max"

    # ------------------------------------------------------------------ after the fit
    def trivial_outputs(self, train_targets: torch.Tensor, *, rows: int, width: int) -> torch.Tensor | None:
        """Outputs of the best constant predictor fitted on the training targets, for ``rows`` rows.

        The bias/variance verdict measures errors against it (majority class, mean value);
        ``width`` is the network's output width. None: the task has no such predictor.
        """
        return None

    def figures(
        self, predictions: np.ndarray, labels: np.ndarray, *, classes: list[Any], directory: Path
    ) -> list[Path]:
        """Draw this task's test-split figures into ``directory``; return their paths."""
        return []

    def packaging_meta(self) -> dict[str, Any]:
        """What the packaged model needs from this objective to turn outputs into predictions."""
        return {}

    @classmethod
    def prediction_frame(
        cls, outputs: torch.Tensor, inputs: torch.Tensor, meta: dict[str, Any]
    ) -> pd.DataFrame:
        """Network outputs of raw rows -> the packaged model's prediction columns.

        Args:
            outputs: the network's outputs, float32 on the CPU.
            inputs: the preprocessed rows the network saw.
            meta: the packaged model's metadata (classes, plus :meth:`packaging_meta`).
        """
        values = outputs.numpy()
        if values.ndim == 1 or values.shape[1] == 1:
            return pd.DataFrame({"prediction": values.reshape(-1)})
        return pd.DataFrame(values, columns=[f"prediction_{i}" for i in range(values.shape[1])])
