"""One evaluation pass: a split's outputs, labels and mean loss, gathered over the processes."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import torch

from trainer.engine.device import move_to_device
from trainer.engine.module import TrainingModule
from trainer.engine.strategy import Strategy
from trainer.errors import UserError


def evaluation_pass(
    module: TrainingModule,
    loader: Iterable[Any],
    *,
    batches: int,
    stage: str,
    strategy: Strategy,
    autocast: Callable[[], AbstractContextManager[object]],
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Run ``module`` over the first ``batches`` of ``loader`` in inference mode.

    Args:
        module: the module; put back in training mode afterwards if it was.
        loader: this process's part of the split.
        batches: how many batches to take.
        stage: ``val`` or ``test``: every process's rows are gathered, so each computes the
            same metrics, with rank 0's buffers (batch-norm statistics), the ones rank 0 saves.
            ``predict``: this process's rows alone, with no collective (reporting predicts on
            rank 0 only; a collective there would wait forever).
        strategy: the run's processes.
        autocast: the precision context of the run.

    Returns:
        The outputs and labels of the whole split on the CPU, and its mean loss.

    Raises:
        UserError: the split has no rows.
    """
    device = strategy.device
    collective = stage != "predict"
    was_training = module.training
    if collective:
        strategy.broadcast_buffers(module.model)
    module.eval()
    outputs, labels = [], []
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    rows = 0
    with torch.inference_mode():
        for batch in itertools.islice(loader, batches):
            x, y = move_to_device(batch, device)
            with autocast():
                loss, out = module.evaluation_step((x, y))
            outputs.append(out.float())
            labels.append(y)
            loss_sum += loss.double() * len(x)
            rows += len(x)
    module.train(was_training)
    # A rank may hold no rows of a small split; the split as a whole must.
    local = (
        torch.cat(outputs).cpu() if outputs else None,
        torch.cat(labels).cpu() if labels else None,
        float(loss_sum),
        rows,
    )
    merged, merged_labels, loss_total, total_rows = strategy.gather_evaluation(local) if collective else local
    if merged is None or merged_labels is None:
        raise UserError(f"The {stage} split has no rows; check the data and the split fractions.")
    return merged, merged_labels, loss_total / total_rows
