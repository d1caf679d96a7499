"""Explicit L1/L2 penalties of the TrainingModule, and how L2 compares with weight decay."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import pytest
import torch
from torch import nn

from trainer.engine.module import TrainingModule
from trainer.models import MLP
from trainer.optim.schedule import TrainingPlan
from trainer.tasks import RegressionObjective

Factory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def _sgd(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.1)


def _model(batch_norm: str = "after") -> MLP:
    torch.manual_seed(0)
    model = MLP(in_features=4, out_features=2, hidden_sizes=[6, 5], batch_norm=batch_norm, init="he_normal")
    with torch.no_grad():  # non-trivial BN scales and biases, so a wrong penalty would show
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d | nn.Linear) and m.bias is not None:
                m.bias.uniform_(-2, 2)
            if isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.5, 3)
    return model


def _module(model: nn.Module, *, l1: float = 0.0, l2: float = 0.0, factory: Factory = _sgd) -> TrainingModule:
    return TrainingModule(model, RegressionObjective(), optimizer_factory=factory, l1=l1, l2=l2)


def _weight_matrices(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(32, 4, generator=generator), torch.randn(32, 2, generator=generator)


@pytest.mark.parametrize(("l1", "l2"), [(0.01, 0.0), (0.0, 0.05), (0.01, 0.05)])
def test_penalty_covers_weight_matrices_only(l1: float, l2: float) -> None:
    model = _model()
    weights = _weight_matrices(model)
    assert len(weights) == 3
    expected = l1 * sum(w.abs().sum() for w in weights) + l2 * sum(w.pow(2).sum() for w in weights)
    penalty = _module(model, l1=l1, l2=l2).penalty()
    assert penalty is not None
    torch.testing.assert_close(penalty, expected)
    # Including the biases and BN parameters would give a visibly different number.
    everything = l1 * sum(p.abs().sum() for p in model.parameters()) + l2 * sum(
        p.pow(2).sum() for p in model.parameters()
    )
    assert everything.item() > penalty.item() * 1.05


def test_penalty_skips_batch_norm_before_the_activation_too() -> None:
    model = _model(batch_norm="before")
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    penalty = _module(model, l2=0.1).penalty()
    assert penalty is not None
    torch.testing.assert_close(penalty, 0.1 * sum(w.pow(2).sum() for w in _weight_matrices(model)))


def test_zero_coefficients_give_no_penalty() -> None:
    assert _module(_model()).penalty() is None
    assert _module(_model(), l1=0.0, l2=0.0).penalty() is None


def test_penalty_follows_the_current_weights() -> None:
    model = _model()
    module = _module(model, l2=0.1)
    before = module.penalty()
    with torch.no_grad():
        model.net[0].weight.mul_(2.0)
    after = module.penalty()
    assert before is not None and after is not None
    assert after.item() > before.item()


def test_training_step_adds_the_penalty_and_evaluation_does_not() -> None:
    model = _model()
    x, y = _batch()
    module = _module(model, l1=0.02, l2=0.03)
    data_loss = RegressionObjective().loss(model(x), y)
    penalty = module.penalty()
    assert penalty is not None and penalty.item() > 0.1 * data_loss.item()
    torch.testing.assert_close(module.training_step((x, y)), data_loss + penalty)
    model.eval()
    eval_loss, _ = module.evaluation_step((x, y))
    torch.testing.assert_close(eval_loss, RegressionObjective().loss(model(x), y))


def test_the_penalty_gradient_reaches_the_weights_but_not_the_biases() -> None:
    x, y = _batch()
    grads = {}
    for l2 in (0.0, 0.5):
        model = _model()
        _module(model, l2=l2).training_step((x, y)).backward()
        grads[l2] = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    for name, grad in grads[0.5].items():
        difference = grad - grads[0.0][name]
        if name.endswith("weight") and grad.dim() > 1:
            params = dict(_model().named_parameters())
            torch.testing.assert_close(difference, 2 * 0.5 * params[name].detach())  # d(l2 w^2)/dw
        else:
            torch.testing.assert_close(difference, torch.zeros_like(difference))


def _train(module: TrainingModule, steps: int = 5) -> dict[str, torch.Tensor]:
    optimizer, _ = module.configure_optimizers(TrainingPlan(max_epochs=1, steps_per_epoch=steps))
    x, y = _batch()
    for _ in range(steps):
        optimizer.zero_grad()
        module.training_step((x, y)).backward()
        optimizer.step()
    return {name: p.detach().clone() for name, p in module.model.named_parameters()}


def _decay_weights_only(cls: type[torch.optim.Optimizer], wd: float, **kwargs: float) -> Factory:
    """The optimizer's weight decay on weight matrices only, as the explicit penalty does."""

    def factory(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        params = list(params)
        matrices = [p for p in params if p.dim() > 1]
        others = [p for p in params if p.dim() <= 1]
        groups = [{"params": matrices, "weight_decay": wd}, {"params": others, "weight_decay": 0.0}]
        return cls(groups, **kwargs)

    return factory


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)


def _max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[name] - b[name]).abs().max()) for name in a)


WD = 0.1


def test_sgd_weight_decay_equals_an_explicit_l2_of_half_the_coefficient() -> None:
    # d/dw (wd/2 * w^2) = wd * w: exactly what SGD's weight_decay adds to the gradient.
    start = _model()
    decayed = _train(_module(copy.deepcopy(start), factory=_decay_weights_only(torch.optim.SGD, WD, lr=0.1)))
    penalised = _train(_module(copy.deepcopy(start), l2=WD / 2, factory=_sgd))
    plain = _train(_module(copy.deepcopy(start), factory=_sgd))
    _assert_same(decayed, penalised)
    assert _max_difference(decayed, plain) > 1e-3  # the decay did something


def test_sgd_weight_decay_also_shrinks_biases_unlike_the_explicit_penalty() -> None:
    start = _model()
    everything = _train(
        _module(copy.deepcopy(start), factory=lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=WD))
    )
    penalised = _train(_module(copy.deepcopy(start), l2=WD / 2, factory=_sgd))
    assert _max_difference(everything, penalised) > 1e-3
    biases = [name for name in everything if name.endswith("bias")]
    assert biases
    assert all(everything[n].abs().sum() < penalised[n].abs().sum() for n in biases)


def _adam(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=0.05)


def test_decoupled_adam_weight_decay_differs_from_an_explicit_l2_penalty() -> None:
    # AdamW shrinks the weights directly; an explicit penalty's gradient goes through Adam's
    # per-parameter scaling instead, so the same start ends in different weights.
    start = _model()
    decoupled = _train(
        _module(copy.deepcopy(start), factory=_decay_weights_only(torch.optim.AdamW, WD, lr=0.05))
    )
    penalised = _train(_module(copy.deepcopy(start), l2=WD / 2, factory=_adam))
    plain = _train(_module(copy.deepcopy(start), factory=_adam))
    difference = _max_difference(decoupled, penalised)
    assert difference > 1e-3
    assert difference > 0.1 * _max_difference(penalised, plain)


def test_torch_adam_weight_decay_is_the_coupled_l2_penalty() -> None:
    # torch.optim.Adam's weight_decay (unlike AdamW's) adds wd * w to the gradient before the
    # adaptive scaling: the same as an explicit l2 = wd / 2 penalty in the loss.
    start = _model()
    coupled = _train(
        _module(copy.deepcopy(start), factory=_decay_weights_only(torch.optim.Adam, WD, lr=0.05))
    )
    penalised = _train(_module(copy.deepcopy(start), l2=WD / 2, factory=_adam))
    _assert_same(coupled, penalised)
