"""Each new model's forward and backward pass, and its errors for data of the wrong shape."""

from __future__ import annotations

import pytest
import torch

from trainer.errors import ConfigError
from trainer.models import CNN, MLP, RNN, EmbeddingBagNet


def _backward_reaches_every_parameter(model: torch.nn.Module, x: torch.Tensor, outputs: int) -> None:
    out = model(x)
    assert out.shape == (len(x), outputs) and torch.isfinite(out).all()
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 5, 7)])
def test_cnn_forward_backward(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = CNN(input_shape=shape, out_features=10, channels=[4, 8, 8], hidden=16)
    _backward_reaches_every_parameter(model, torch.randn(6, *shape), 10)


def test_cnn_needs_images() -> None:
    with pytest.raises(ConfigError, match="data=digits_images"):
        CNN(input_shape=[30], out_features=2)
    with pytest.raises(ConfigError, match="kernel_size"):
        CNN(input_shape=[1, 8, 8], out_features=2, kernel_size=2)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_rnn_forward_backward(cell: str, layers: int, bidirectional: bool) -> None:
    torch.manual_seed(0)
    model = RNN(
        input_shape=[12, 3],
        out_features=1,
        cell=cell,
        hidden_size=8,
        num_layers=layers,
        dropout=0.1 if layers > 1 else 0.0,
        bidirectional=bidirectional,
        head_sizes=[4],
    )
    _backward_reaches_every_parameter(model, torch.randn(5, 12, 3), 1)


def test_rnn_reads_the_window_in_order() -> None:
    torch.manual_seed(0)
    model = RNN(input_shape=[6, 1], out_features=1).eval()
    x = torch.randn(3, 6, 1)
    assert not torch.allclose(model(x), model(x.flip(1)))


def test_rnn_errors() -> None:
    with pytest.raises(ConfigError, match="data=temperature_synthetic"):
        RNN(input_shape=[1, 8, 8], out_features=1)
    with pytest.raises(ConfigError, match="num_layers"):
        RNN(input_shape=[4, 1], out_features=1, dropout=0.2)


def test_embedding_bag_on_ids_ignores_padding() -> None:
    torch.manual_seed(0)
    model = EmbeddingBagNet(in_features=20, out_features=3, embedding_dim=8, hidden_sizes=[8])
    ids = torch.tensor([[3, 5, 0, 0], [7, 0, 0, 0]])
    _backward_reaches_every_parameter(model, ids, 3)
    padded_more = torch.tensor([[3, 5, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    assert torch.allclose(model(ids), model(padded_more))
    assert model.embedding.weight.grad is not None
    assert torch.all(model.embedding.weight.grad[0] == 0)  # padding never learns


def test_embedding_bag_on_weights_equals_the_bag_of_the_same_ids() -> None:
    torch.manual_seed(0)
    model = EmbeddingBagNet(in_features=10, out_features=2, embedding_dim=4, mode="sum")
    counts = torch.zeros(1, 10)
    counts[0, 3], counts[0, 5] = 2.0, 1.0
    assert torch.allclose(model(counts), model(torch.tensor([[3, 3, 5]])), atol=1e-6)
    _backward_reaches_every_parameter(model, torch.rand(4, 10), 2)


def test_mlp_flattens_images() -> None:
    model = MLP(in_features=64, out_features=10, hidden_sizes=[16])
    _backward_reaches_every_parameter(model, torch.randn(4, 1, 8, 8), 10)


@pytest.mark.parametrize(
    ("option", "shape", "x"),
    [
        ("cnn", {"input_shape": [1, 8, 8]}, torch.randn(4, 1, 8, 8)),
        ("gru", {"input_shape": [6, 2]}, torch.randn(4, 6, 2)),
        ("lstm", {"input_shape": [6, 2]}, torch.randn(4, 6, 2)),
        ("embedding_bag", {"in_features": 30}, torch.randint(0, 30, (4, 7))),
    ],
)
def test_each_conf_file_builds_with_what_build_passes(option: str, shape: dict, x: torch.Tensor) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from trainer.config import conf_dir

    model = instantiate(OmegaConf.load(conf_dir() / "model" / f"{option}.yaml"), **shape, out_features=3)
    assert model.eval()(x).shape == (4, 3)
