"""The bias/variance verdict after a fit, and the next step from the standard recipe.

Errors are read on one scale, the *reference error*: by default the error of the best trivial
predictor (the training split's majority class, or its mean value), which every model should
beat by far; a user may give another (a previous model's, a human's). Two ratios decide:

- ``bias = train_error / reference_error``: how much of the reference error the model still
  makes on the data it was fitted to. Above ``bias_threshold`` (default 0.5: it has not even
  halved the trivial predictor's error) the model underfits: high bias.
- ``variance = (val_error - train_error) / reference_error``: the generalisation gap on the
  same scale. Above ``variance_threshold`` (default 0.1) the model overfits: high variance.

Classification error is ``1 - accuracy``; regression error is the MSE, so the bias ratio is
the fraction of the target's variance left unexplained (``1 - R²`` on the training split).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from trainer.engine.module import TrainingModule

HIGH_BIAS = "high bias"
HIGH_VARIANCE = "high variance"
BOTH = "high bias and high variance"
FINE = "fine"
UNDETERMINED = "undetermined"
STILL_IMPROVING = "still improving"
#: The validation loss still falls by more than this fraction per epoch over the last epochs of
#: a run that stopped at its epoch budget: the model is not done, so it cannot be judged yet.
IMPROVING_RATE = 0.01

#: The standard recipe (Ng's basic recipe for machine learning): what to try next.
NEXT_STEP = {
    HIGH_BIAS: (
        "Fit the training data better first: a bigger network (more units or layers), train longer "
        "(more epochs, a tuned learning rate: trainer lr-find), less regularisation, or better features."
    ),
    HIGH_VARIANCE: (
        "Close the gap to validation: more training data (or augmentation), more regularisation "
        "(regularization.l2, optimizer.weight_decay, model.dropout), early stopping, or a smaller network."
    ),
    BOTH: (
        "Reduce bias first (a bigger network, longer training), then variance (more data, "
        "regularisation); a better-suited architecture can help both."
    ),
    FINE: (
        "Training and validation errors are both low next to the reference; confirm on the test "
        "split, or lower the reference (e.g. a human-level error) to push further."
    ),
    UNDETERMINED: "The reference error is 0 or undefined, so there is no scale to judge the errors on.",
    STILL_IMPROVING: (
        "The validation loss was still falling when training stopped at trainer.max_epochs: train "
        "longer (raise trainer.max_epochs; early stopping ends it when it stops improving), then judge."
    ),
}


def still_improving(history: list[dict[str, float]], *, metric: str = "val/loss", last: int = 3) -> bool:
    """Whether ``metric`` (a loss) was still falling steeply at the end of ``history``: its last
    value is the run's lowest, and across its last ``last`` values it fell by more than
    ``IMPROVING_RATE`` of its value per epoch."""
    values = [float(row[metric]) for row in history if metric in row and math.isfinite(float(row[metric]))]
    if len(values) < 2 or values[-1] > min(values):
        return False
    window = values[-last:]
    rate = (window[0] - window[-1]) / (len(window) - 1) / max(abs(window[0]), 1e-12)
    return rate > IMPROVING_RATE


def bias_variance_verdict(
    *,
    train_error: float,
    val_error: float,
    reference_error: float,
    bias_threshold: float = 0.5,
    variance_threshold: float = 0.1,
) -> dict[str, Any]:
    """Judge training and validation error against a reference error (pure arithmetic).

    Args:
        train_error: error on the training split (lower is better).
        val_error: error on the validation split.
        reference_error: the scale: the best trivial predictor's error, or another you trust.
        bias_threshold: high bias when ``train_error / reference_error`` exceeds this.
        variance_threshold: high variance when ``(val_error - train_error) / reference_error``
            exceeds this.

    Returns:
        ``verdict`` (high bias, high variance, high bias and high variance, fine, undetermined),
        ``tag`` (the verdict with underscores), ``next_step``, the three errors, and the
        ``bias`` and ``variance`` ratios.
    """
    values = (train_error, val_error, reference_error)
    if not all(math.isfinite(v) for v in values) or reference_error <= 0:
        verdict, bias, variance = UNDETERMINED, math.nan, math.nan
    else:
        bias = train_error / reference_error
        variance = (val_error - train_error) / reference_error
        high_bias, high_variance = bias > bias_threshold, variance > variance_threshold
        verdict = BOTH if high_bias and high_variance else HIGH_BIAS if high_bias else FINE
        if high_variance and not high_bias:
            verdict = HIGH_VARIANCE
    return {
        "verdict": verdict,
        "tag": verdict.replace(" ", "_"),
        "next_step": NEXT_STEP[verdict],
        "train_error": train_error,
        "val_error": val_error,
        "reference_error": reference_error,
        "bias": bias,
        "variance": variance,
        "bias_threshold": bias_threshold,
        "variance_threshold": variance_threshold,
    }


def error_from_metrics(metrics: dict[str, float], metric: str, *, higher_is_better: bool) -> float:
    """A metric as an error: ``1 - m`` for accuracy-like metrics, ``m`` for losses."""
    value = float(metrics[metric])
    return 1.0 - value if higher_is_better else value


@torch.inference_mode()
def _outputs(model: torch.nn.Module, x: torch.Tensor, *, chunk: int = 4096) -> torch.Tensor:
    device = next(model.parameters()).device
    parts = [model(x[i : i + chunk].to(device)).float().cpu() for i in range(0, len(x), chunk)]
    return torch.cat(parts)


def bias_variance_report(
    module: TrainingModule,
    datamodule: Any,
    *,
    reference_error: float | None = None,
    bias_threshold: float = 0.5,
    variance_threshold: float = 0.1,
    improving: bool = False,
) -> tuple[dict[str, Any], str]:
    """The verdict of a fitted module, measured on the training and validation splits.

    The model is evaluated as it stands (call it after the best weights are loaded), in eval
    mode (dropout off), on the full training and validation tensors. The trivial predictor is
    fitted on the training labels and scored on the validation split.

    Args:
        module: the fitted module; its objective says what the error is (``error_metric``).
        datamodule: gives ``tensors("train")`` and ``tensors("val")``.
        reference_error: the scale to judge errors on; ``None`` takes the trivial predictor's.
        bias_threshold, variance_threshold: see :func:`bias_variance_verdict`.
        improving: training stopped at its epoch budget while the validation loss was still
            falling (:func:`still_improving`): the verdict is "still improving", whatever the
            ratios say (they are kept, and the text gives them).

    Returns:
        The verdict dict (empty when the task has no error metric or no validation rows) and
        the text to print and save as ``bias_variance.txt``.
    """
    objective = module.objective
    metric = objective.error_metric
    x_train, y_train = datamodule.tensors("train")
    x_val, y_val = datamodule.tensors("val")
    if metric is None or len(x_val) == 0:
        why = "it has no validation rows" if metric is not None else f"the {objective.name} task has none"
        return {}, f"Bias/variance: no verdict ({why})."
    higher = objective.direction(metric) == "max"
    was_training = module.training
    module.eval()
    try:
        train_out, val_out = _outputs(module.model, x_train), _outputs(module.model, x_val)
    finally:
        module.train(was_training)
    train_error = error_from_metrics(objective.metrics(train_out, y_train), metric, higher_is_better=higher)
    val_error = error_from_metrics(objective.metrics(val_out, y_val), metric, higher_is_better=higher)
    trivial_error = math.nan
    trivial = objective.trivial_outputs(y_train, rows=len(x_val), width=val_out.shape[-1])
    if trivial is not None:
        trivial_error = error_from_metrics(objective.metrics(trivial, y_val), metric, higher_is_better=higher)
    reference = trivial_error if reference_error is None else float(reference_error)
    verdict = bias_variance_verdict(
        train_error=train_error,
        val_error=val_error,
        reference_error=reference,
        bias_threshold=bias_threshold,
        variance_threshold=variance_threshold,
    )
    if improving and verdict["verdict"] != UNDETERMINED:
        verdict.update(
            measured=verdict["verdict"],
            verdict=STILL_IMPROVING,
            tag=STILL_IMPROVING.replace(" ", "_"),
            next_step=NEXT_STEP[STILL_IMPROVING],
        )
    verdict["error_metric"] = ("1 - " if higher else "") + metric
    verdict["trivial_error"] = trivial_error
    verdict["reference"] = "best trivial predictor" if reference_error is None else "configured"
    return verdict, format_verdict(verdict)


def format_verdict(verdict: dict[str, Any]) -> str:
    """The verdict as a few lines of text; each ratio says on which side of its limit it is."""
    measured = f" (the errors alone say: {verdict['measured']})" if verdict.get("measured") else ""
    return "\n".join(
        [
            f"Bias/variance: {verdict['verdict']}{measured}",
            f"  error = {verdict.get('error_metric', 'error')}: train {verdict['train_error']:.4g}, "
            f"validation {verdict['val_error']:.4g}, reference {verdict['reference_error']:.4g} "
            f"({verdict.get('reference', 'given')})",
            f"  bias = train / reference = {verdict['bias']:.3g}, "
            f"{_side(verdict['bias'], verdict['bias_threshold'])}; "
            f"variance = (validation - train) / reference = {verdict['variance']:.3g}, "
            f"{_side(verdict['variance'], verdict['variance_threshold'])}",
            f"  next step: {verdict['next_step']}",
        ]
    )


def _side(value: float, limit: float) -> str:
    if not math.isfinite(value):
        return "not measured"
    return f"HIGH (above {limit:g})" if value > limit else f"ok (at most {limit:g})"
