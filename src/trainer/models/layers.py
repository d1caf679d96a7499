"""Activations and weight initialisers by name, matched to each other as the literature says.

He (Kaiming) init suits ReLU and its family, Glorot (Xavier) suits tanh/sigmoid/softmax,
LeCun normal is what SELU needs to self-normalise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from trainer.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

INITIALIZERS = (
    "default",  # PyTorch's own (Kaiming uniform with a=sqrt(5))
    "glorot_normal",
    "glorot_uniform",
    "xavier_normal",
    "xavier_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
)

# torch's name for the gain of each activation (calculate_gain); GELU and ELU are close to ReLU.
_GAIN_NAME = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "elu": "relu",
    "gelu": "relu",
    "selu": "selu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}


def check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ConfigError(f"model.activation={name!r} is not known; choose one of {', '.join(ACTIVATIONS)}.")


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name.

    Raises:
        ConfigError: unknown name (the message lists the choices).
    """
    check_activation(name)
    return ACTIVATIONS[name]()


def check_initializer(name: str) -> None:
    if name not in INITIALIZERS:
        raise ConfigError(f"model.init={name!r} is not known; choose one of {', '.join(INITIALIZERS)}.")


@torch.no_grad()
def init_linear(layer: nn.Linear, *, init: str, activation: str) -> None:
    """Initialise one linear layer's weights by scheme name; biases start at zero."""
    check_initializer(init)
    if init == "default":
        return
    weight = layer.weight
    gain_name = _GAIN_NAME.get(activation, "linear")
    if init in ("glorot_normal", "xavier_normal"):
        nn.init.xavier_normal_(weight)
    elif init in ("glorot_uniform", "xavier_uniform"):
        nn.init.xavier_uniform_(weight)
    elif init in ("he_normal", "kaiming_normal", "he_uniform", "kaiming_uniform"):
        # He init assumes ReLU; leaky ReLU gets its own gain, other activations the ReLU one.
        leaky = gain_name == "leaky_relu"
        kaiming = nn.init.kaiming_normal_ if init.endswith("normal") else nn.init.kaiming_uniform_
        kaiming(
            weight, a=0.01 if leaky else 0.0, mode="fan_in", nonlinearity="leaky_relu" if leaky else "relu"
        )
    elif init == "lecun_normal":
        fan_in = weight.shape[1]
        nn.init.normal_(weight, mean=0.0, std=1.0 / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
