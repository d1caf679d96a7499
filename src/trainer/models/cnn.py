"""A small convolutional classifier: conv blocks with batch norm, pooling and dropout, then a dense head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.models.layers import check_activation, make_activation
from trainer.ranges import check_value

POOLS = ("max", "avg", "none")


class CNN(nn.Module):
    """``[Conv -> BatchNorm -> activation] x convs_per_block -> pool -> dropout`` per block, then dense.

    Pooling halves the height and width while both are at least 2 (an 8x8 digit survives three
    blocks: 8 -> 4 -> 2 -> 1). Padding keeps the size through each convolution.

    Args:
        input_shape: ``(channels, height, width)`` of one image (set from the data).
        out_features: output width (set from the objective).
        channels: output channels of each block.
        convs_per_block: convolutions in each block before its pooling.
        kernel_size: odd kernel size of every convolution.
        batch_norm: batch norm after each convolution (the convolution then has no bias).
        pool: ``max``, ``avg`` or ``none``.
        dropout: drop probability after each block (spatial units) and in the dense head.
        hidden: width of the dense layer before the output; 0 for none.
        activation: relu, leaky_relu, elu, selu, gelu, tanh or sigmoid.
    """

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        out_features: int,
        channels: Sequence[int] = (32, 64),
        convs_per_block: int = 1,
        kernel_size: int = 3,
        batch_norm: bool = True,
        pool: str = "max",
        dropout: float = 0.25,
        hidden: int = 128,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        check_activation(activation)
        if len(input_shape) != 3:
            raise ConfigError(
                f"model=cnn needs image data shaped (channels, height, width), got {tuple(input_shape)}; "
                "use an image data option, e.g. data=digits_images or data=fashion_mnist."
            )
        if pool not in POOLS:
            raise ConfigError(f"model.pool={pool!r}; choose one of {', '.join(POOLS)}.")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"model.kernel_size={kernel_size} must be odd (padding keeps the size).")
        check_value("model.dropout", dropout)
        if not channels or any(int(c) < 1 for c in channels) or convs_per_block < 1 or hidden < 0:
            raise ConfigError(
                f"model.channels={list(channels)} (each 1 or more), model.convs_per_block={convs_per_block} "
                f"(1 or more) and model.hidden={hidden} (0 or more) are out of range."
            )
        in_channels, height, width = (int(n) for n in input_shape)
        self.input_shape = (in_channels, height, width)
        blocks: list[nn.Module] = []
        for out_channels in (int(c) for c in channels):
            for _ in range(convs_per_block):
                blocks.append(
                    nn.Conv2d(
                        in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=not batch_norm
                    )
                )
                if batch_norm:
                    blocks.append(nn.BatchNorm2d(out_channels))
                blocks.append(make_activation(activation))
                in_channels = out_channels
            if pool != "none" and min(height, width) >= 2:
                blocks.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
                height, width = height // 2, width // 2
            if dropout > 0:
                blocks.append(nn.Dropout2d(dropout))  # drops whole feature maps: neighbours are correlated
        self.features = nn.Sequential(*blocks)
        flat = in_channels * height * width
        head: list[nn.Module] = [nn.Flatten()]
        if hidden:
            head += [nn.Linear(flat, hidden), make_activation(activation)]
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            flat = hidden
        head.append(nn.Linear(flat, out_features))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, H, W) -> features (B, C', H', W') -> logits (B, out_features)
        return self.head(self.features(x))
