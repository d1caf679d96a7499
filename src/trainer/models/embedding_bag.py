"""Text classifier on a bag of word embeddings (``nn.EmbeddingBag``), then a dense head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models.layers import check_activation, make_activation
from trainer.ranges import check_value

MODES = ("mean", "sum")


class EmbeddingBagNet(nn.Module):
    """Average (or sum) the embeddings of a text's tokens, then dense layers to the output.

    Inputs are either token ids ``(B, length)`` int64 with 0 as padding (``data.features=ids``),
    or per-word weights ``(B, vocabulary)`` float such as counts or TF-IDF (``bow``/``tfidf``):
    then each text is the weighted sum of its words' embeddings, which is what
    ``EmbeddingBag`` computes with ``per_sample_weights``, done as one matrix product.

    Args:
        in_features: rows of the embedding table: the vocabulary (+1 for padding with ids).
        out_features: output width (set from the objective).
        embedding_dim: width of each word vector.
        mode: ``mean`` or ``sum`` of a text's word vectors.
        hidden_sizes: dense layers after the bag.
        dropout: dropout after the bag and each dense layer.
        activation: activation of the dense layers.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        embedding_dim: int = 64,
        mode: str = "mean",
        hidden_sizes: Sequence[int] = (),
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"model.mode={mode!r}; choose one of {', '.join(MODES)}.")
        if embedding_dim < 1 or in_features < 2:
            raise ConfigError(f"model.embedding_dim={embedding_dim} must be 1+ (vocabulary {in_features}).")
        check_value("model.dropout", dropout)
        check_activation(activation)
        self.mode = mode
        # mode="sum" with per-token weights: padding gets weight 0, and "mean" divides by the count.
        self.embedding = nn.EmbeddingBag(in_features, embedding_dim, mode="sum")
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        width = embedding_dim
        for size in (int(s) for s in hidden_sizes):
            layers += [nn.Linear(width, size), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():  # (B, vocabulary) weights -> (B, embedding_dim)
            weights = x
            bag = x @ self.embedding.weight
        else:  # (B, length) ids -> (B, embedding_dim); 0 is padding
            weights = (x != 0).to(self.embedding.weight.dtype)
            bag = self.embedding(x, per_sample_weights=weights)
        if self.mode == "mean":
            bag = bag / weights.abs().sum(dim=1, keepdim=True).clamp_min(1e-6)
        return self.head(bag)  # (B, out_features)
