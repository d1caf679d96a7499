"""A multilayer perceptron with the classic options: activation, init, batch norm, dropout."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models.layers import check_activation, check_initializer, init_linear, make_activation
from trainer.ranges import check_value

log = logging.getLogger(__name__)

BATCH_NORM_PLACES = ("none", "before", "after")


def _batch_norm_place(batch_norm: bool | str) -> str:
    if batch_norm is True:
        return "before"
    if batch_norm is False or batch_norm is None:
        return "none"
    if batch_norm not in BATCH_NORM_PLACES:
        raise ConfigError(
            f"model.batch_norm={batch_norm!r}; choose one of {', '.join(BATCH_NORM_PLACES)} "
            "(true means before the activation, as in the batch-norm paper)."
        )
    return batch_norm


class MLP(nn.Module):
    """Dense layers ``in -> hidden... -> out``.

    Each hidden block is ``Linear -> [BatchNorm] -> activation -> [BatchNorm] -> [Dropout]``,
    with batch norm in one of the two places.

    Args:
        in_features: input width (set from the data).
        out_features: output width (set from the objective).
        hidden_sizes: width of each hidden layer; empty for a linear model.
        activation: relu, leaky_relu, elu, selu, gelu, tanh or sigmoid.
        init: weight initialiser (see ``models.layers.INITIALIZERS``).
        batch_norm: ``none``, ``before`` or ``after`` the activation (``true`` = before).
        dropout: drop probability after each hidden block; with SELU, alpha dropout is used,
            because ordinary dropout breaks self-normalisation.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        init: str = "default",
        batch_norm: bool | str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_initializer(init)
        check_activation(activation)  # a typo must fail even with no hidden layer to use it
        check_value("model.dropout", dropout)
        if any(int(h) < 1 for h in hidden_sizes):
            raise ConfigError(f"model.hidden_sizes={list(hidden_sizes)} must all be 1 or more.")
        place = _batch_norm_place(batch_norm)
        if not hidden_sizes:
            # Allowed (conf/model/linear.yaml is the logistic-regression baseline), but said: an
            # empty list in a sweep or an override removes every hidden layer without a word, and
            # the options of the hidden blocks then do nothing.
            log.warning(
                "model.hidden_sizes=[]: this MLP (%d -> %d) has no hidden layer, so it is a linear "
                "model (logistic, softmax or linear regression); model.activation, batch_norm and "
                "dropout do nothing in it. Set model.hidden_sizes=[64,32] for hidden layers.",
                in_features,
                out_features,
            )
        self.in_features = in_features
        self.out_features = out_features
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            linear = nn.Linear(width, int(size), bias=place != "before")  # BN's shift replaces the bias
            init_linear(linear, init=init, activation=activation)
            layers.append(linear)
            if place == "before":
                layers.append(nn.BatchNorm1d(int(size)))
            layers.append(make_activation(activation))
            if place == "after":
                layers.append(nn.BatchNorm1d(int(size)))
            if dropout > 0:
                layers.append(nn.AlphaDropout(dropout) if activation == "selu" else nn.Dropout(dropout))
            width = int(size)
        head = nn.Linear(width, out_features)
        # The output layer feeds a loss, not an activation: Glorot suits it for any scheme.
        init_linear(head, init="glorot_uniform" if init != "default" else "default", activation="linear")
        layers.append(head)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Images (B, C, H, W) arrive unflattened; a table's (B, F) is unchanged by flatten(1).
        return self.net(x.flatten(1))
