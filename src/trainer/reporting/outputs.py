"""Which outputs a run produces beyond its params, metrics, config and log.

A single ``trainer train`` run produces them all. A sweep's trials are compared on validation
metrics only, so by default they skip the rest (``sweep.trial_record=light``): the test split
stays untouched until the winner is chosen, and a hundred trials do not draw a hundred sets of
figures or package a hundred models nobody serves. The winner is then trained once more with
everything (``sweep.refit_best``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunOutputs:
    """Switches for the expensive parts of a run's record.

    Attributes:
        test: evaluate the best checkpoint on the test split (``test_after_fit`` must allow it too).
        datasets: log each split as a dataset input.
        diagnostics: the model summary and the bias/variance verdict.
        figures: learning curves, confusion matrix, ROC/PR, residuals...
        checkpoints: send the best and last checkpoints to the logger (when it records them).
        model: package the model and log it (when the logger records models).
    """

    test: bool = True
    datasets: bool = True
    diagnostics: bool = True
    figures: bool = True
    checkpoints: bool = True
    model: bool = True

    @classmethod
    def full(cls) -> RunOutputs:
        """Everything: what ``trainer train`` records."""
        return cls()

    @classmethod
    def light(cls) -> RunOutputs:
        """Params, per-step and per-epoch metrics, the config and the log: what a trial needs."""
        return cls(
            test=False, datasets=False, diagnostics=False, figures=False, checkpoints=False, model=False
        )
