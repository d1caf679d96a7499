"""The interface every objective follows."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class Objective(ABC):
    """Loss, predictions and metrics for one kind of task.

    ``loss`` runs on every batch and must stay cheap; ``metrics`` runs once per evaluation
    on all outputs of the split, on the CPU.
    """

    name: str = "objective"
    #: metric that the default checkpoint and early stopping watch, with its direction.
    default_monitor: tuple[str, str] = ("loss", "min")

    def output_size(self, num_targets: int) -> int:
        """How many outputs the network needs for a target with ``num_targets`` classes/columns."""
        return num_targets

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
