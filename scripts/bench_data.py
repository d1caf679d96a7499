"""Shared by the benchmarks: the synthetic binary table both bench_*.py scripts train on."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import make_classification

VAL_FRACTION = 0.2


def make_tables(
    rows: int, features: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train/val features and float labels, standardised with the training rows' statistics."""
    x, y = make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=max(2, features // 2),
        n_redundant=features // 4,
        random_state=seed,
    )
    n_val = int(rows * VAL_FRACTION)
    x_train, x_val = x[n_val:], x[:n_val]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8

    def as_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float32))

    return (
        as_tensor((x_train - mean) / std),
        as_tensor(y[n_val:]),
        as_tensor((x_val - mean) / std),
        as_tensor(y[:n_val]),
    )
