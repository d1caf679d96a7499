"""Networks and the helpers that set their activation, initialisation and normalisation."""

from trainer.models.autoencoder import Autoencoder
from trainer.models.cnn import CNN
from trainer.models.embedding_bag import EmbeddingBagNet
from trainer.models.layers import ACTIVATIONS, INITIALIZERS, make_activation
from trainer.models.mlp import MLP
from trainer.models.rnn import RNN
from trainer.models.tabular_embedding import TabularEmbeddingNet as TabularEmbeddingNet

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "INITIALIZERS",
    "MLP",
    "RNN",
    "Autoencoder",
    "EmbeddingBagNet",
    "make_activation",
]
