"""An MLP with entity embeddings for categorical columns and optional embeddings for numbers.

The tabular datamodule's preprocessing puts the scaled numeric columns first and then one
one-hot block per categorical column, in column order (``FeatureLayout.from_preprocessor``).
This model keeps that input format, so resampled rows (SMOTE's interpolated one-hot values),
explanations and packaging work unchanged, and embeds each block itself:

- a one-hot block times a ``(cardinality, dim)`` matrix *is* an embedding lookup (Guo & Berkhahn,
  "Entity Embeddings of Categorical Variables", 2016); a category unseen in training (an all-zero
  block, ``handle_unknown="ignore"``) maps to the zero vector, and an interpolated row to the
  interpolation of its categories' embeddings;
- each numeric column can be embedded too, by periodic features ``sin/cos(2π c x)`` with
  trainable frequencies followed by a linear layer and ReLU (the "PLR" embedding of Gorishniy et
  al., "On Embeddings for Numerical Features in Tabular Deep Learning", 2022), which lets an MLP
  draw the sharp, non-monotone cuts that trees find in a single number.

The embeddings are concatenated and fed to :class:`~trainer.models.mlp.MLP`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models.mlp import MLP
from trainer.ranges import check_value


def auto_embedding_dim(cardinality: int, *, max_dim: int) -> int:
    """fast.ai's rule of thumb ``round(1.6 * n ** 0.56)``, capped at ``max_dim`` and ``n``."""
    return max(1, min(max_dim, cardinality, round(1.6 * cardinality**0.56)))


class CategoricalEmbedding(nn.Module):
    """One embedding per one-hot block, applied as one block-diagonal matrix product.

    Args:
        cardinalities: width of each one-hot block, in input order.
        dims: embedding width of each block.
    """

    mask: torch.Tensor  # (sum cardinalities, sum dims) 0/1 block-diagonal pattern, a buffer

    def __init__(self, cardinalities: Sequence[int], dims: Sequence[int]) -> None:
        super().__init__()
        total_in, total_out = sum(cardinalities), sum(dims)
        mask = torch.zeros(total_in, total_out)
        row = col = 0
        for cardinality, dim in zip(cardinalities, dims, strict=True):
            mask[row : row + cardinality, col : col + dim] = 1.0
            row, col = row + cardinality, col + dim
        # One masked matmul instead of a Python loop over blocks: the same lookups, one kernel.
        self.register_buffer("mask", mask)
        # nn.Embedding's N(0, 1) init.
        self.weight = nn.Parameter(torch.randn(total_in, total_out) * mask)
        self.out_features = total_out

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        # (B, sum cardinalities) -> (B, sum dims)
        return onehot @ (self.weight * self.mask)


class PeriodicEmbedding(nn.Module):
    """Per numeric column ``x -> ReLU(W [sin(2π c x), cos(2π c x)] + b)`` with trainable ``c``.

    Args:
        n_features: number of numeric columns.
        n_frequencies: frequencies per column.
        dim: output width per column.
        sigma: std of the initial frequencies (the scale of the cuts it starts able to draw).
    """

    def __init__(self, n_features: int, *, n_frequencies: int, dim: int, sigma: float) -> None:
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(n_features, n_frequencies) * sigma)
        # A separate linear map per column: (F, 2K, D) weights, (F, D) biases.
        bound = 1.0 / math.sqrt(2 * n_frequencies)
        self.weight = nn.Parameter(torch.empty(n_features, 2 * n_frequencies, dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_features, dim).uniform_(-bound, bound))
        self.out_features = n_features * dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * self.frequencies * x.unsqueeze(-1)  # (B, F, K)
        periodic = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (B, F, 2K)
        out = torch.einsum("bfk,fkd->bfd", periodic, self.weight) + self.bias  # (B, F, D)
        return torch.relu(out).flatten(1)  # (B, F * D)


class TabularEmbeddingNet(nn.Module):
    """Embeddings of the categorical one-hot blocks (and optionally of each number), then an MLP.

    Args:
        in_features: input width (set from the data): numeric columns, then the one-hot blocks.
        out_features: output width (set from the objective).
        categorical_cardinalities: width of each one-hot block, in order (set from the data's
            fitted preprocessor); empty: every input is numeric and the model is an MLP.
        embedding_dim: width of every categorical embedding; ``None`` uses
            :func:`auto_embedding_dim` per column.
        max_embedding_dim: cap of the automatic width.
        numeric_embedding: ``none`` (numbers enter as they are) or ``periodic`` (PLR embedding).
        numeric_embedding_dim: output width per numeric column of the periodic embedding.
        n_frequencies: frequencies per numeric column of the periodic embedding.
        frequency_scale: std of the initial frequencies of the periodic embedding.
        embedding_dropout: dropout on the concatenated embeddings (drops a category's signal, as
            in the entity-embedding paper's regularisation).
        hidden_sizes, activation, init, batch_norm, dropout: as for :class:`MLP`.

    Raises:
        ConfigError: cardinalities wider than the input, or an unknown option.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        categorical_cardinalities: Sequence[int] = (),
        embedding_dim: int | None = None,
        max_embedding_dim: int = 16,
        numeric_embedding: str = "none",
        numeric_embedding_dim: int = 8,
        n_frequencies: int = 16,
        frequency_scale: float = 0.1,
        embedding_dropout: float = 0.0,
        hidden_sizes: Sequence[int] = (64, 32),
        activation: str = "relu",
        init: str = "default",
        batch_norm: bool | str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        cardinalities = [int(c) for c in categorical_cardinalities]
        if any(c < 1 for c in cardinalities) or sum(cardinalities) > in_features:
            raise ConfigError(
                f"model.categorical_cardinalities={cardinalities} must be positive and sum to at most "
                f"the input width {in_features}; leave it unset so the data fills it in."
            )
        if numeric_embedding not in ("none", "periodic"):
            raise ConfigError(f"model.numeric_embedding={numeric_embedding!r}; choose none or periodic.")
        check_value("model.embedding_dropout", embedding_dropout)
        self.in_features = in_features
        self.out_features = out_features
        self.n_numeric = in_features - sum(cardinalities)
        self.cardinalities = cardinalities
        width = self.n_numeric
        self.numeric: nn.Module = nn.Identity()
        if numeric_embedding == "periodic" and self.n_numeric:
            self.numeric = PeriodicEmbedding(
                self.n_numeric, n_frequencies=n_frequencies, dim=numeric_embedding_dim, sigma=frequency_scale
            )
            width = self.numeric.out_features
        self.categorical: CategoricalEmbedding | None = None
        if cardinalities:
            dims = [embedding_dim or auto_embedding_dim(c, max_dim=max_embedding_dim) for c in cardinalities]
            self.categorical = CategoricalEmbedding(cardinalities, dims)
            width += self.categorical.out_features
        self.embedding_dropout = nn.Dropout(embedding_dropout) if embedding_dropout > 0 else nn.Identity()
        self.mlp = MLP(
            in_features=width,
            out_features=out_features,
            hidden_sizes=hidden_sizes,
            activation=activation,
            init=init,
            batch_norm=batch_norm,
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, in_features)
        parts = [self.numeric(x[:, : self.n_numeric])]  # (B, numeric width)
        if self.categorical is not None:
            parts.append(self.categorical(x[:, self.n_numeric :]))  # (B, sum of embedding dims)
        return self.mlp(self.embedding_dropout(torch.cat(parts, dim=1)))
