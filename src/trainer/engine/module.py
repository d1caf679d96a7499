"""The TrainingModule: a model plus what it is trained for (objective, optimizer, penalties).

It plays the part of Lightning's LightningModule with three fixed steps, so the Trainer's
loop stays the same for a classifier, a regressor and an autoencoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from trainer.optim.schedule import SchedulerSpec, TrainingPlan
from trainer.tasks.base import Objective

Batch = tuple[torch.Tensor, torch.Tensor]
OptimizerFactory = Callable[[Iterable[Any]], torch.optim.Optimizer]


SchedulerFactory = Callable[[torch.optim.Optimizer, TrainingPlan], SchedulerSpec]


class TrainingModule(nn.Module):
    """Couples a network with its objective, optimizer factory, scheduler factory and penalties.

    Args:
        model: the network; its output is what the objective's loss takes.
        objective: loss, predictions and metrics for the task.
        optimizer_factory: called with the parameters to build the optimizer.
        scheduler_factory: called with the optimizer and the training plan; ``None`` for no schedule.
        l1: coefficient of an explicit L1 penalty on weight matrices (not biases or norms).
        l2: coefficient of an explicit L2 penalty ``l2 * sum(w**2)`` added to the loss, on weight
            matrices only. torch's ``weight_decay`` in Adam adds the same gradient (for ``wd = 2 * l2``)
            but to biases too; AdamW's decoupled decay is the one that differs under Adam.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        *,
        optimizer_factory: OptimizerFactory,
        scheduler_factory: SchedulerFactory | None = None,
        l1: float = 0.0,
        l2: float = 0.0,
    ) -> None:
        super().__init__()
        self.model = model
        self.objective = objective
        self.optimizer_factory = optimizer_factory
        self.scheduler_factory = scheduler_factory
        self.l1 = float(l1)
        self.l2 = float(l2)
        # Penalties apply to weight matrices only: penalising biases and norm scales is
        # the usual mistake that hurts fit without regularising anything.
        self._penalized = [p for name, p in model.named_parameters() if p.dim() > 1 and name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def penalty(self) -> torch.Tensor | None:
        """The explicit L1/L2 penalty, or ``None`` when both coefficients are zero."""
        if not self._penalized or (self.l1 == 0.0 and self.l2 == 0.0):
            return None
        total = torch.zeros((), device=self._penalized[0].device)
        if self.l1:
            total = total + self.l1 * sum(p.abs().sum() for p in self._penalized)
        if self.l2:
            total = total + self.l2 * sum(p.pow(2).sum() for p in self._penalized)
        return total

    def training_step(self, batch: Batch) -> torch.Tensor:
        """Loss of one training batch, penalties included."""
        x, y = batch
        loss = self.objective.loss(self.model(x), self.objective.targets(x, y))
        extra = self.penalty()
        return loss if extra is None else loss + extra

    def evaluation_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean loss (without penalties, so it compares across settings) and evaluation outputs."""
        x, y = batch
        outputs = self.model(x)
        loss = self.objective.loss(outputs, self.objective.targets(x, y))
        return loss, self.objective.evaluation_outputs(outputs, x)

    def configure_optimizers(self, plan: TrainingPlan) -> tuple[torch.optim.Optimizer, SchedulerSpec | None]:
        """Build the optimizer over this module's parameters and, if any, its scheduler."""
        optimizer = self.optimizer_factory(self.model.parameters())
        spec = self.scheduler_factory(optimizer, plan) if self.scheduler_factory else None
        return optimizer, spec
