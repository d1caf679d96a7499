"""Activations and initialisers by name: the modules they build and the statistics they give."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models import ACTIVATIONS, INITIALIZERS, MLP, make_activation
from trainer.models.layers import check_initializer, init_linear

EXPECTED_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

# A wide, non-square layer: weight (FAN_OUT, FAN_IN), so fan-in and fan-in + fan-out schemes differ.
FAN_IN, FAN_OUT = 1000, 400


def test_activation_names_are_the_documented_ones() -> None:
    assert set(ACTIVATIONS) == set(EXPECTED_ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ACTIVATIONS))
def test_make_activation_builds_a_fresh_module_of_the_right_class(name: str) -> None:
    first, second = make_activation(name), make_activation(name)
    assert type(first) is EXPECTED_ACTIVATIONS[name]
    assert first is not second  # one module per layer, never shared


def test_leaky_relu_uses_the_usual_small_slope() -> None:
    out = make_activation("leaky_relu")(torch.tensor([-2.0, 3.0]))
    torch.testing.assert_close(out, torch.tensor([-0.02, 3.0]))


def test_unknown_activation_names_the_value_and_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        make_activation("swish")
    message = str(info.value)
    assert "'swish'" in message
    for name in ACTIVATIONS:
        assert name in message


def test_unknown_initializer_names_the_value_and_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        check_initializer("orthogonal")
    message = str(info.value)
    assert "'orthogonal'" in message
    for name in INITIALIZERS:
        assert name in message


def _wide_layer(init: str, activation: str = "relu") -> nn.Linear:
    torch.manual_seed(0)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    init_linear(layer, init=init, activation=activation)
    return layer


GLOROT_STD = math.sqrt(2.0 / (FAN_IN + FAN_OUT))
GLOROT_BOUND = math.sqrt(6.0 / (FAN_IN + FAN_OUT))
HE_STD = math.sqrt(2.0 / FAN_IN)
HE_BOUND = math.sqrt(6.0 / FAN_IN)
LECUN_STD = 1.0 / math.sqrt(FAN_IN)


@pytest.mark.parametrize(
    ("init", "activation", "std"),
    [
        ("glorot_normal", "tanh", GLOROT_STD),
        ("xavier_normal", "sigmoid", GLOROT_STD),
        ("he_normal", "relu", HE_STD),
        ("kaiming_normal", "relu", HE_STD),
        # He init assumes ReLU; other activations get the ReLU gain, leaky ReLU nearly the same.
        ("he_normal", "elu", HE_STD),
        ("he_normal", "leaky_relu", math.sqrt(2.0 / (1 + 0.01**2) / FAN_IN)),
        ("lecun_normal", "selu", LECUN_STD),
    ],
)
def test_normal_initializers_have_the_textbook_std(init: str, activation: str, std: float) -> None:
    layer = _wide_layer(init, activation)
    weight = layer.weight.detach()
    assert weight.shape == (FAN_OUT, FAN_IN)
    assert abs(weight.mean().item()) < 0.02 * std
    assert weight.std().item() == pytest.approx(std, rel=0.01)
    # Normal, not uniform: some weights lie well beyond sqrt(3) standard deviations.
    assert weight.abs().max().item() > 3.5 * std
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize(
    ("init", "bound"),
    [
        ("glorot_uniform", GLOROT_BOUND),
        ("xavier_uniform", GLOROT_BOUND),
        ("he_uniform", HE_BOUND),
        ("kaiming_uniform", HE_BOUND),
    ],
)
def test_uniform_initializers_fill_the_textbook_bound(init: str, bound: float) -> None:
    layer = _wide_layer(init)
    weight = layer.weight.detach()
    assert weight.abs().max().item() <= bound
    assert weight.abs().max().item() > 0.999 * bound
    assert weight.min().item() < -0.999 * bound
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=0.01)
    assert torch.count_nonzero(layer.bias) == 0


def test_the_schemes_are_told_apart_on_a_non_square_layer() -> None:
    # Guards the fan choice: Glorot averages fan-in and fan-out, He and LeCun use fan-in only.
    stds = {init: _wide_layer(init).weight.std().item() for init in ("glorot_normal", "he_normal")}
    stds["lecun_normal"] = _wide_layer("lecun_normal", "selu").weight.std().item()
    assert stds["he_normal"] > 1.1 * stds["glorot_normal"] > 1.1 * stds["lecun_normal"]


def test_default_init_keeps_torch_weights_and_biases() -> None:
    layer = _wide_layer("default")
    # PyTorch's own: Kaiming uniform with a=sqrt(5), i.e. bound 1/sqrt(fan_in), biases too.
    bound = 1.0 / math.sqrt(FAN_IN)
    assert layer.weight.abs().max().item() <= bound
    assert layer.weight.abs().max().item() > 0.99 * bound
    assert torch.count_nonzero(layer.bias) > 0


def test_layer_without_bias_is_initialised() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(FAN_IN, FAN_OUT, bias=False)
    init_linear(layer, init="he_normal", activation="relu")
    assert layer.weight.std().item() == pytest.approx(HE_STD, rel=0.01)


@pytest.mark.parametrize("init", [i for i in INITIALIZERS if i != "default"])
def test_mlp_applies_the_initializer_to_hidden_layers_and_glorot_to_the_head(init: str) -> None:
    torch.manual_seed(0)
    model = MLP(in_features=FAN_IN, out_features=FAN_OUT, hidden_sizes=[FAN_IN], init=init, activation="selu")
    hidden, head = model.net[0], model.net[-1]
    assert isinstance(hidden, nn.Linear) and isinstance(head, nn.Linear)
    reference = _wide_layer(init, "selu").weight.std().item()
    # hidden is FAN_IN x FAN_IN, the reference FAN_OUT x FAN_IN: equal only for fan-in schemes.
    # (Glorot normal and uniform share the std sqrt(2 / (fan_in + fan_out)).)
    expected = math.sqrt(2.0 / (2 * FAN_IN)) if init.startswith(("glorot", "xavier")) else reference
    assert hidden.weight.std().item() == pytest.approx(expected, rel=0.01)
    assert head.weight.abs().max().item() <= GLOROT_BOUND
    assert head.weight.std().item() == pytest.approx(GLOROT_BOUND / math.sqrt(3.0), rel=0.01)
    assert torch.count_nonzero(hidden.bias) == 0
    assert torch.count_nonzero(head.bias) == 0
