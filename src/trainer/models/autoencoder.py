"""A dense autoencoder: an MLP encoder to a bottleneck and a mirrored decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models.mlp import MLP


class Autoencoder(nn.Module):
    """Reconstructs its input through a narrow code; trained on normal rows it flags anomalies.

    Args:
        in_features: input width (set from the data); the output has the same width.
        out_features: ignored unless it differs from ``in_features`` (then an error), so the
            autoencoder plugs into the same builder as other models.
        hidden_sizes: encoder widths; the decoder mirrors them.
        code_size: width of the bottleneck.
        activation, init, batch_norm, dropout: as for :class:`MLP`.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int | None = None,
        hidden_sizes: Sequence[int] = (32, 16),
        code_size: int = 8,
        activation: str = "relu",
        init: str = "default",
        batch_norm: bool | str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if out_features is not None and out_features != in_features:
            raise ConfigError(
                f"model=autoencoder reconstructs its {in_features} inputs but the objective wants "
                f"{out_features} outputs; train it with objective.name=reconstruction."
            )
        self.encoder = MLP(
            in_features=in_features,
            out_features=code_size,
            hidden_sizes=list(hidden_sizes),
            activation=activation,
            init=init,
            batch_norm=batch_norm,
            dropout=dropout,
        )
        self.decoder = MLP(
            in_features=code_size,
            out_features=in_features,
            hidden_sizes=list(reversed(list(hidden_sizes))),
            activation=activation,
            init=init,
            batch_norm=batch_norm,
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
