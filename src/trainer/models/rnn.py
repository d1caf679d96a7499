"""GRU and LSTM forecasters: a recurrent stack over a window, then a dense head on its last state."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models.layers import check_activation, make_activation
from trainer.ranges import check_value

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class RNN(nn.Module):
    """``GRU`` or ``LSTM`` layers over ``(batch, steps, features)`` windows and a dense head.

    The head reads the last layer's final hidden state (both directions' when bidirectional).

    Args:
        input_shape: ``(steps, features)`` of one window (set from the data).
        out_features: output width (set from the objective).
        cell: ``gru`` or ``lstm``.
        hidden_size: units of each recurrent layer.
        num_layers: stacked recurrent layers.
        dropout: dropout between recurrent layers (needs ``num_layers`` >= 2) and in the head.
        bidirectional: also read each window backwards (for classification of whole windows;
            a forecaster gains little, as the last step matters most).
        head_sizes: widths of dense layers between the recurrent state and the output.
        activation: activation of the dense head's hidden layers.
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        out_features: int,
        cell: str = "gru",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        head_sizes: Sequence[int] = (),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"model.cell={cell!r}; choose one of {', '.join(CELLS)}.")
        if len(input_shape) != 2:
            raise ConfigError(
                f"model={cell} needs windows shaped (steps, features), got {tuple(input_shape)}; use a "
                "sequence data option, e.g. data=temperature_synthetic or data=jena_climate."
            )
        if hidden_size < 1 or num_layers < 1:
            raise ConfigError(
                f"model.hidden_size={hidden_size} and model.num_layers={num_layers} must be 1+."
            )
        check_value("model.dropout", dropout)
        if dropout > 0 and num_layers == 1 and not head_sizes:
            raise ConfigError(
                f"model.dropout={dropout} acts between recurrent layers and in the head; with "
                "model.num_layers=1 and no model.head_sizes it would do nothing. Raise num_layers."
            )
        check_activation(activation)
        steps, features = (int(n) for n in input_shape)
        self.input_shape = (steps, features)
        self.recurrent = CELLS[cell](
            input_size=features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,  # torch applies it between layers only
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.directions = 2 if bidirectional else 1
        width = hidden_size * self.directions
        head: list[nn.Module] = []
        for size in (int(s) for s in head_sizes):
            head += [nn.Linear(width, size), make_activation(activation)]
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            width = size
        head.append(nn.Linear(width, out_features))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, steps, features); h_n: (layers * directions, B, hidden)
        _, state = self.recurrent(x)
        h_n = state[0] if isinstance(state, tuple) else state  # an LSTM also returns its cell state
        last = h_n[-self.directions :]  # (directions, B, hidden): the top layer's final states
        return self.head(torch.cat(list(last), dim=-1))  # (B, out_features)
