"""Where a run stands inside an epoch, and how a loader is put back there.

A checkpoint written between two optimizer steps records how many of the epoch's batches were
trained on and the running sum of their losses (so the epoch's ``train/loss`` comes out the same).
A resume sets the loader to the same epoch, whose order depends on ``(seed, epoch)`` only, and
starts it at the next batch (``engine.loaders.position_loader``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainer.errors import UserError


@dataclass
class EpochProgress:
    """Position within the current epoch.

    Attributes:
        batch: batches of the epoch already trained on (0: at the epoch's start).
        loss_sum: sum of those batches' losses.
    """

    batch: int = 0
    loss_sum: float = 0.0

    def state_dict(self, *, batches_per_epoch: int, accumulate: int, elapsed: float) -> dict[str, Any]:
        """The checkpoint's ``progress``, with what a resume checks it against."""
        return {
            "batch": self.batch,
            "loss_sum": self.loss_sum,
            "batches_per_epoch": batches_per_epoch,
            "accumulate": accumulate,
            "elapsed": elapsed,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, batches_per_epoch: int, accumulate: int) -> EpochProgress:
        """Read ``progress`` back, refusing a position this run's loader cannot continue from.

        Raises:
            UserError: the epoch has another number of batches, or the position falls inside an
                accumulation window of this run (a resume happens at optimizer-step boundaries).
        """
        batch = int(state.get("batch", 0))
        if batch == 0:
            return cls()
        saved_batches = int(state.get("batches_per_epoch", batches_per_epoch))
        if saved_batches != batches_per_epoch:
            raise UserError(
                f"The checkpoint stopped at batch {batch} of an epoch of {saved_batches} batches; this "
                f"run's epoch has {batches_per_epoch}. Resume with the data.batch_size, "
                "trainer.limit_train_batches and data the run started with."
            )
        if batch % accumulate and batch != batches_per_epoch:
            raise UserError(
                f"The checkpoint stopped after batch {batch}, inside an accumulation window of "
                f"trainer.accumulate_grad_batches={accumulate}; resume with "
                f"trainer.accumulate_grad_batches={state.get('accumulate', '<the original value>')}."
            )
        return cls(batch=batch, loss_sum=float(state.get("loss_sum", 0.0)))
