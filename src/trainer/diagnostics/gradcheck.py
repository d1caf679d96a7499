"""Gradient checking: backprop's gradients against central finite differences, in float64.

The check runs on a deep copy of the module, so the caller's model, its dtype and its batch
norm statistics are left as they were. On the copy:

- dropout is switched off by setting every dropout probability to 0, and the copy stays in
  *training* mode. Training mode is the point: batch norm then normalises with the batch's own
  statistics, which is the backward pass training uses and the one worth checking (eval mode
  would check a fixed affine map instead). Without dropout the loss is a deterministic
  function of the weights, which finite differences need.
- everything is cast to float64, so the central difference's error (O(eps^2) truncation plus
  about 1e-16 / eps rounding) stays far below the 1e-7 the reading calls great.

Big tensors are sampled: at most ``max_coords`` coordinates per parameter tensor, chosen at
random with a fixed seed, each costing two forward passes. The report says how many were
checked. A coordinate whose difference is suspicious is measured again with a step 100 times
smaller: ReLU-type kinks make a finite difference wrong when a unit's input lies within the
step of zero; a wrong backward pass stays wrong at every step size.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from trainer.engine.module import Batch, TrainingModule

#: The course's reading of the relative difference.
GREAT = 1e-7
BUG = 1e-3


def reading(difference: float) -> str:
    """The course's reading of one relative difference.

    Returns:
        ``great`` (below 1e-7), ``look closer`` (up to 1e-3; around 1e-5 is typical of a kink or
        a float32 step) or ``bug`` (above 1e-3, or not finite).
    """
    if not math.isfinite(difference) or difference > BUG:
        return "bug"
    return "great" if difference < GREAT else "look closer"


def relative_difference(approx: torch.Tensor, grad: torch.Tensor) -> float:
    """``||approx - grad|| / (||approx|| + ||grad||)``; 0 when both are zero."""
    denominator = float(approx.norm() + grad.norm())
    return float((approx - grad).norm()) / denominator if denominator > 0 else 0.0


@dataclass
class TensorCheck:
    """The check of one parameter tensor.

    Attributes:
        name: the parameter's name in the model.
        shape: its shape.
        checked: how many of its coordinates were compared.
        difference: relative difference over the checked coordinates.
        retried: coordinates measured again with a smaller step.
    """

    name: str
    shape: tuple[int, ...]
    checked: int
    difference: float
    retried: int = 0

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def reading(self) -> str:
        return reading(self.difference)


@dataclass
class GradcheckResult:
    """Per-tensor and overall relative differences, with how they were measured."""

    tensors: list[TensorCheck] = field(default_factory=list)
    overall: float = 0.0
    epsilon: float = 1e-6
    batch_rows: int = 0
    max_coords: int = 0

    @property
    def sampled(self) -> bool:
        """Whether some tensor had more coordinates than were checked."""
        return any(t.checked < t.numel for t in self.tensors)

    @property
    def bug(self) -> bool:
        """True when the overall difference or any tensor's reads as a bug."""
        return reading(self.overall) == "bug" or any(t.reading == "bug" for t in self.tensors)

    @property
    def reading(self) -> str:
        return "bug" if self.bug else reading(self.overall)


def prepare_copy(module: TrainingModule) -> TrainingModule:
    """A float64 copy of ``module`` in training mode with every dropout probability set to 0."""
    work = copy.deepcopy(module)
    for layer in work.modules():
        if isinstance(layer, nn.modules.dropout._DropoutNd):
            layer.p = 0.0
        elif isinstance(layer, nn.RNNBase):
            layer.dropout = 0.0  # dropout between stacked recurrent layers
    return work.double().train()


def gradient_check(
    loss_fn: Callable[[], torch.Tensor],
    parameters: Sequence[tuple[str, nn.Parameter]],
    *,
    epsilon: float = 1e-6,
    max_coords: int = 50,
    seed: int = 0,
) -> GradcheckResult:
    """Compare ``loss_fn``'s backprop gradients with central differences, coordinate by coordinate.

    Args:
        loss_fn: computes the scalar loss from the current parameter values (deterministic).
        parameters: ``(name, parameter)`` pairs to check; they are perturbed in place and put back.
        epsilon: the finite-difference step.
        max_coords: most coordinates checked per tensor (all of a smaller tensor); 0 = all.
        seed: seed of the coordinate sample.

    Returns:
        Relative differences per tensor and overall.
    """
    for _, parameter in parameters:
        parameter.grad = None
    loss_fn().backward()
    generator = torch.Generator().manual_seed(seed)
    result = GradcheckResult(epsilon=epsilon, max_coords=max_coords)
    all_approx, all_grad = [], []
    for name, parameter in parameters:
        grad = parameter.grad
        flat_grad = (grad if grad is not None else torch.zeros_like(parameter)).detach().reshape(-1)
        count = parameter.numel()
        if max_coords and count > max_coords:
            coords = torch.randperm(count, generator=generator)[:max_coords].sort().values
        else:
            coords = torch.arange(count)
        exact = flat_grad[coords.to(flat_grad.device)].cpu()
        approx, retried = _central_differences(loss_fn, parameter, coords, exact, epsilon)
        result.tensors.append(
            TensorCheck(
                name=name,
                shape=tuple(parameter.shape),
                checked=len(coords),
                difference=relative_difference(approx, exact),
                retried=retried,
            )
        )
        all_approx.append(approx)
        all_grad.append(exact)
    if all_approx:
        result.overall = relative_difference(torch.cat(all_approx), torch.cat(all_grad))
    return result


@torch.no_grad()
def _central_differences(
    loss_fn: Callable[[], torch.Tensor],
    parameter: nn.Parameter,
    coords: torch.Tensor,
    exact: torch.Tensor,
    epsilon: float,
) -> tuple[torch.Tensor, int]:
    """``(L(w + h e_i) - L(w - h e_i)) / 2h`` for each coordinate ``i``; suspicious ones retried."""
    flat = parameter.data.view(-1)  # parameters are contiguous: a view writes through

    def difference(index: int, step: float) -> float:
        original = flat[index].item()
        flat[index] = original + step
        plus = float(loss_fn())
        flat[index] = original - step
        minus = float(loss_fn())
        flat[index] = original
        return (plus - minus) / (2 * step)

    approx = torch.empty(len(coords), dtype=torch.float64)
    retried = 0
    for position, index in enumerate(coords.tolist()):
        value = difference(index, epsilon)
        target = float(exact[position])
        scale = abs(value) + abs(target)
        if scale > 0 and abs(value - target) > BUG * scale:
            # A kink within the step (ReLU, max-pool, abs) fakes a mismatch that a smaller step
            # avoids; a wrong backward pass disagrees at both steps, and the closer value is kept.
            smaller = difference(index, epsilon / 100)
            retried += 1
            if abs(smaller - target) < abs(value - target):
                value = smaller
        approx[position] = value
    return approx, retried


def check_module(
    module: TrainingModule, batch: Batch, *, epsilon: float = 1e-6, max_coords: int = 50, seed: int = 0
) -> GradcheckResult:
    """Gradient-check a training module's loss (penalties included) on one batch.

    Args:
        module: the module to check; it is not modified (the check runs on a float64 copy).
        batch: ``(inputs, labels)``; a few rows are enough and keep the check fast.
        epsilon: the finite-difference step.
        max_coords: most coordinates checked per parameter tensor; 0 = all.
        seed: seed of the coordinate sample.
    """
    work = prepare_copy(module)
    device = next(work.parameters()).device
    x, y = batch
    x = x.to(device=device, dtype=torch.float64)
    y = y.to(device=device, dtype=torch.float64 if y.is_floating_point() else y.dtype)

    def loss_fn() -> torch.Tensor:
        return work.training_step((x, y))

    parameters = [(n, p) for n, p in work.model.named_parameters() if p.requires_grad]
    result = gradient_check(loss_fn, parameters, epsilon=epsilon, max_coords=max_coords, seed=seed)
    result.batch_rows = len(x)
    return result


def format_report(result: GradcheckResult) -> str:
    """The per-tensor table, the overall difference and the reading, as printed by ``trainer gradcheck``."""
    width = max([len(t.name) for t in result.tensors] + [9])
    lines = [
        f"Gradient check: central differences (eps={result.epsilon:g}) vs backprop, float64, "
        f"{result.batch_rows} rows, dropout off, batch norm on batch statistics.",
        f"{'parameter':<{width}}  {'shape':<14} {'checked':>11}  {'rel. diff':>10}  reading",
    ]
    for t in result.tensors:
        checked = f"{t.checked}/{t.numel}"
        note = f"  ({t.retried} retried with eps/100)" if t.retried else ""
        lines.append(
            f"{t.name:<{width}}  {t.shape!s:<14} {checked:>11}  {t.difference:>10.2e}  {t.reading}{note}"
        )
    lines.append(f"{'overall':<{width}}  {'':<14} {'':>11}  {result.overall:>10.2e}  {result.reading}")
    if result.sampled:
        lines.append(
            f"Sampled: at most {result.max_coords} random coordinates per tensor were checked "
            "(gradcheck.max_coords=0 checks them all)."
        )
    lines.append(
        "Reading: below 1e-7 great; around 1e-5 look closer (a kink in ReLU/max, or float32 somewhere); "
        "above 1e-3 a bug in a backward pass."
    )
    return "\n".join(lines)
