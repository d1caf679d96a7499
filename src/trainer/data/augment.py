"""On-the-fly augmentation of image batches on the device they train on.

One affine warp per batch (``affine_grid`` + ``grid_sample``) applies each image's own random
shift and rotation in a single kernel, so augmenting costs about one extra forward of a small
conv layer rather than a Python loop over images.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from trainer.errors import ConfigError


class ImageAugment:
    """Random horizontal flip, shift, small rotation and gaussian noise of ``(B, C, H, W)`` batches.

    Every option at its default (0 or ``False``) turns that transform off.

    Args:
        hflip: flip each image left-right with probability 0.5 (right for clothes, wrong for digits).
        max_shift: largest shift in pixels along each axis (a random crop of a zero-padded image).
        max_rotation: largest rotation in degrees, either way.
        noise_std: standard deviation of additive gaussian noise, in the inputs' (normalised) units.
        fill: value that shifted/rotated-in pixels take (the normalised background).
    """

    def __init__(
        self,
        *,
        hflip: bool = False,
        max_shift: float = 0.0,
        max_rotation: float = 0.0,
        noise_std: float = 0.0,
        fill: float = 0.0,
    ) -> None:
        if max_shift < 0 or max_rotation < 0 or noise_std < 0:
            raise ConfigError(
                f"data.augment: max_shift={max_shift}, max_rotation={max_rotation} and "
                f"noise_std={noise_std} must be 0 or more."
            )
        if max_rotation > 45:
            raise ConfigError(f"data.augment.max_rotation={max_rotation} degrees; keep it small (<= 45).")
        self.hflip = hflip
        self.max_shift = float(max_shift)
        self.max_rotation = float(max_rotation)
        self.noise_std = float(noise_std)
        self.fill = float(fill)

    @property
    def active(self) -> bool:
        return self.hflip or self.max_shift > 0 or self.max_rotation > 0 or self.noise_std > 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch ``x`` of shape ``(B, C, H, W)``; the result has the same shape."""
        if x.dim() != 4:
            raise ValueError(f"image augmentation needs (B, C, H, W) batches, got shape {tuple(x.shape)}")
        batch, _, height, width = x.shape
        device = x.device

        def uniform(low: float, high: float) -> torch.Tensor:  # (B,)
            return torch.rand(batch, device=device, generator=generator) * (high - low) + low

        if self.hflip:
            flip = torch.rand(batch, device=device, generator=generator) < 0.5  # (B,)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.max_shift > 0 or self.max_rotation > 0:
            angle = uniform(-self.max_rotation, self.max_rotation) * (math.pi / 180)
            # affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2s / size.
            tx = uniform(-self.max_shift, self.max_shift) * (2 / width)
            ty = uniform(-self.max_shift, self.max_shift) * (2 / height)
            cos, sin = torch.cos(angle), torch.sin(angle)
            theta = torch.stack(
                [torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1
            ).to(x.dtype)  # (B, 2, 3)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            # grid_sample pads with zeros; shift by fill so the revealed border is background.
            x = F.grid_sample(x - self.fill, grid, mode="bilinear", align_corners=False) + self.fill
        if self.noise_std > 0:
            noise = torch.randn(x.shape, device=device, generator=generator, dtype=x.dtype)
            x = x + self.noise_std * noise
        return x
