"""The MLP's layer stack: activations, batch-norm placement, dropout, and its config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from trainer.errors import ConfigError
from trainer.models import ACTIVATIONS, MLP, Autoencoder
from trainer.models.mlp import BATCH_NORM_PLACES

CONF = Path(__file__).resolve().parents[2] / "conf"


def _types(model: MLP) -> list[type[nn.Module]]:
    return [type(layer) for layer in model.net]


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_is_placed_after_each_hidden_layer(name: str) -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4, 5], activation=name)
    act = type(ACTIVATIONS[name]())
    assert _types(model) == [nn.Linear, act, nn.Linear, act, nn.Linear]
    assert [(m.in_features, m.out_features) for m in _linears(model)] == [(3, 4), (4, 5), (5, 2)]
    assert model(torch.randn(6, 3)).shape == (6, 2)


def test_the_head_has_no_activation() -> None:
    # A loss takes raw outputs (logits): a ReLU on the head would clip negative logits to zero.
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4], activation="relu")
    assert isinstance(model.net[-1], nn.Linear)
    torch.manual_seed(0)
    assert (model(torch.randn(64, 3)) < 0).any()


@pytest.mark.parametrize("hidden_sizes", [[4], []])
def test_unknown_activation_raises_config_error(hidden_sizes: list[int]) -> None:
    # Also with no hidden layer: a typo in a linear model's config must not pass silently.
    with pytest.raises(ConfigError) as info:
        MLP(in_features=3, out_features=2, hidden_sizes=hidden_sizes, activation="relux")
    message = str(info.value)
    assert "'relux'" in message
    assert all(name in message for name in ACTIVATIONS)


def test_unknown_init_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model\.init='he'.*glorot_normal.*lecun_normal"):
        MLP(in_features=3, out_features=2, hidden_sizes=[4], init="he")


@pytest.mark.parametrize("value", ["middle", "yes", "Before"])
def test_unknown_batch_norm_place_raises_config_error(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        MLP(in_features=3, out_features=2, hidden_sizes=[4], batch_norm=value)
    message = str(info.value)
    assert repr(value) in message
    assert all(place in message for place in BATCH_NORM_PLACES)


@pytest.mark.parametrize("batch_norm", ["before", True])
def test_batch_norm_before_the_activation_drops_the_linear_bias(batch_norm: bool | str) -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4, 5], activation="tanh", batch_norm=batch_norm)
    bn = nn.BatchNorm1d
    assert _types(model) == [nn.Linear, bn, nn.Tanh, nn.Linear, bn, nn.Tanh, nn.Linear]
    hidden = _linears(model)[:-1]
    assert all(layer.bias is None for layer in hidden)  # BN's shift replaces it
    assert model.net[-1].bias is not None  # the head feeds the loss, not a BN
    assert [model.net[1].num_features, model.net[4].num_features] == [4, 5]


def test_batch_norm_after_the_activation_keeps_the_linear_bias() -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4, 5], activation="tanh", batch_norm="after")
    bn = nn.BatchNorm1d
    assert _types(model) == [nn.Linear, nn.Tanh, bn, nn.Linear, nn.Tanh, bn, nn.Linear]
    assert all(layer.bias is not None for layer in _linears(model))


@pytest.mark.parametrize("batch_norm", ["none", False, None])
def test_no_batch_norm(batch_norm: bool | str | None) -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4], batch_norm=batch_norm)  # type: ignore[arg-type]
    assert nn.BatchNorm1d not in _types(model)
    assert model.net[0].bias is not None


def test_batch_norm_normalises_the_hidden_activations_in_training() -> None:
    torch.manual_seed(0)
    model = MLP(in_features=3, out_features=2, hidden_sizes=[8], activation="relu", batch_norm="after")
    hidden = model.net[:3](torch.randn(256, 3) * 50 + 7)
    torch.testing.assert_close(hidden.mean(0), torch.zeros(8), atol=1e-4, rtol=0)


def test_dropout_follows_each_hidden_block() -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4, 5], activation="relu", dropout=0.25)
    assert _types(model) == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert all(m.p == 0.25 for m in model.net if isinstance(m, nn.Dropout))


def test_dropout_comes_after_batch_norm_placed_after() -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4], batch_norm="after", dropout=0.1)
    assert _types(model) == [nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.Dropout, nn.Linear]


def test_selu_gets_alpha_dropout() -> None:
    # Ordinary dropout breaks SELU's self-normalisation; alpha dropout keeps mean and variance.
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4, 5], activation="selu", dropout=0.1)
    types = _types(model)
    assert types == [nn.Linear, nn.SELU, nn.AlphaDropout, nn.Linear, nn.SELU, nn.AlphaDropout, nn.Linear]
    assert nn.Dropout not in types


def test_no_dropout_module_at_zero() -> None:
    model = MLP(in_features=3, out_features=2, hidden_sizes=[4], activation="selu", dropout=0.0)
    assert not any(isinstance(m, nn.Dropout | nn.AlphaDropout) for m in model.modules())


def test_dropout_is_active_in_training_and_off_in_eval() -> None:
    torch.manual_seed(0)
    model = MLP(in_features=3, out_features=2, hidden_sizes=[16], dropout=0.5)
    x = torch.randn(4, 3)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    assert not torch.allclose(model(x), model(x))


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5])
def test_dropout_out_of_range_raises(dropout: float) -> None:
    with pytest.raises(ConfigError, match=f"model.dropout={dropout}"):
        MLP(in_features=3, out_features=2, hidden_sizes=[4], dropout=dropout)


def test_empty_hidden_layer_width_raises() -> None:
    with pytest.raises(ConfigError, match=r"hidden_sizes=\[4, 0\]"):
        MLP(in_features=3, out_features=2, hidden_sizes=[4, 0])


def test_no_hidden_sizes_is_a_linear_model() -> None:
    torch.manual_seed(0)
    model = MLP(in_features=3, out_features=2, hidden_sizes=[], init="glorot_uniform", dropout=0.5)
    assert _types(model) == [nn.Linear]
    layer = model.net[0]
    assert (layer.in_features, layer.out_features) == (3, 2)
    x = torch.randn(5, 3)
    torch.testing.assert_close(model(x), x @ layer.weight.T + layer.bias)


# Dense models of flat rows; the CNN, RNN and EmbeddingBag confs are built in test_cnn_rnn_embedding_bag.py.
FLAT_MODELS = ("trainer.models.MLP", "trainer.models.Autoencoder")


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((CONF / "model").glob("*.yaml")) if OmegaConf.load(p)._target_ in FLAT_MODELS],
    ids=lambda p: p.stem,
)
def test_every_model_config_builds_and_runs(path: Path) -> None:
    node = OmegaConf.load(path)
    out_features = 6 if node._target_.endswith("Autoencoder") else 2
    model = instantiate(node, in_features=6, out_features=out_features)
    assert isinstance(model, MLP | Autoencoder)
    model.eval()
    assert model(torch.randn(4, 6)).shape == (4, out_features)
    if path.stem == "linear":
        assert len(_linears(model)) == 1
