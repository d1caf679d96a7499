"""The dense autoencoder: same width out as in, a decoder that mirrors the encoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models import Autoencoder


def _shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_output_has_the_input_shape() -> None:
    model = Autoencoder(in_features=10, hidden_sizes=(32, 16), code_size=4)
    x = torch.randn(7, 10)
    assert model(x).shape == x.shape
    assert model.encoder(x).shape == (7, 4)


def test_decoder_mirrors_the_encoder() -> None:
    model = Autoencoder(in_features=10, hidden_sizes=(32, 16), code_size=4)
    encoder, decoder = _shapes(model.encoder), _shapes(model.decoder)
    assert encoder == [(10, 32), (32, 16), (16, 4)]
    assert decoder == [(4, 16), (16, 32), (32, 10)]
    assert decoder == [(b, a) for a, b in reversed(encoder)]


def test_no_hidden_layers_is_a_linear_bottleneck() -> None:
    model = Autoencoder(in_features=5, hidden_sizes=(), code_size=2)
    assert _shapes(model) == [(5, 2), (2, 5)]


def test_out_features_equal_to_in_features_is_accepted_and_other_widths_are_not() -> None:
    model = Autoencoder(in_features=5, out_features=5, hidden_sizes=(4,), code_size=2)
    assert model(torch.randn(2, 5)).shape == (2, 5)
    with pytest.raises(
        ConfigError,
        match=r"reconstructs its 5 inputs but the objective wants 1 outputs.*"
        r"objective\.name=reconstruction",
    ):
        Autoencoder(in_features=5, out_features=1)


def test_options_reach_both_halves() -> None:
    model = Autoencoder(
        in_features=6, hidden_sizes=(8,), code_size=3, activation="selu", batch_norm="after", dropout=0.2
    )
    for half in (model.encoder, model.decoder):
        types = [type(m) for m in half.net]
        assert types == [nn.Linear, nn.SELU, nn.BatchNorm1d, nn.AlphaDropout, nn.Linear]


def test_initializer_reaches_both_halves() -> None:
    model = Autoencoder(in_features=6, hidden_sizes=(8,), code_size=3, init="he_normal")
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, nn.Linear))


def test_bad_options_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="'bogus'"):
        Autoencoder(in_features=6, init="bogus")
    with pytest.raises(ConfigError, match="'swish'"):
        Autoencoder(in_features=6, activation="swish")


def test_a_few_steps_reduce_the_reconstruction_error() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 2) @ torch.randn(2, 6)  # rank-2 data fits through a 2-wide code
    model = Autoencoder(in_features=6, hidden_sizes=(16,), code_size=2, activation="tanh", init="he_normal")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = (model(x) - x).pow(2).mean()
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.2 * losses[0]
