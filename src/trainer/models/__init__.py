"""Networks and the helpers that set their activation, initialisation and normalisation."""

from trainer.models.autoencoder import Autoencoder
from trainer.models.layers import ACTIVATIONS, INITIALIZERS, make_activation
from trainer.models.mlp import MLP

__all__ = ["ACTIVATIONS", "INITIALIZERS", "MLP", "Autoencoder", "make_activation"]
