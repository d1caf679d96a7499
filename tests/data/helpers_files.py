"""Tiny files in the standard formats of Fashion-MNIST (IDX gzip) and the Jena climate CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.data.idx import FASHION_MNIST_FILES, write_idx


def write_tiny_fashion_mnist(folder: Path, *, train: int = 60, test: int = 20, size: int = 28) -> Path:
    """The four IDX files with ``train``/``test`` random images whose class shows in the pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = list(FASHION_MNIST_FILES)
    for (images_name, labels_name), rows in ((names[0:2], train), (names[2:4], test)):
        labels = np.arange(rows) % 10
        images = rng.integers(0, 60, size=(rows, size, size))
        images[np.arange(rows), labels, :] = 250  # a bright row per class: learnable in a few steps
        write_idx(folder / images_name, images)
        write_idx(folder / labels_name, labels)
    return folder


def write_tiny_jena(path: Path, *, rows: int = 600) -> Path:
    """A Jena-like CSV: ``Date Time``, ``p (mbar)``, ``T (degC)``, ``rh (%)`` every 10 minutes."""
    t = np.arange(rows)
    temperature = 10 + 5 * np.sin(2 * np.pi * t / 144) + np.random.default_rng(1).normal(0, 0.2, rows)
    lines = ['"Date Time","p (mbar)","T (degC)","rh (%)"']
    for i in range(rows):
        day, minute = divmod(i * 10, 24 * 60)
        stamp = f"{1 + day % 28:02d}.01.2009 {minute // 60:02d}:{minute % 60:02d}:00"
        lines.append(f"{stamp},{996 + (i % 7) * 0.1:.2f},{temperature[i]:.2f},{80 + (i % 11):.1f}")
    path.write_text("\n".join(lines) + "\n")
    return path
