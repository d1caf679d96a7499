"""Image classification data: scikit-learn's 8x8 digits (embedded) or Fashion-MNIST from a folder.

Images become float tensors ``(N, 1, H, W)`` scaled to [0, 1] and standardised with the mean
and standard deviation of the training pixels only. The MLP flattens them; the CNN takes them
as they are.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from trainer.data.augment import ImageAugment
from trainer.data.base import TensorDataModule
from trainer.data.idx import FASHION_MNIST_CLASSES, read_fashion_mnist
from trainer.errors import ConfigError
from trainer.tasks import MulticlassObjective

log = logging.getLogger(__name__)

IMAGE_SETS = ("digits", "fashion_mnist")


class ImageDataModule(TensorDataModule):
    """Grey-scale images in three splits, served as device batches or through a DataLoader.

    ``digits`` is split three ways (stratified); ``fashion_mnist`` keeps its own test set
    (t10k) and takes the validation split from its training files (stratified).

    Args:
        name: ``digits`` (scikit-learn's 1,797 8x8 digits, bundled) or ``fashion_mnist``.
        folder: for ``fashion_mnist``, the folder holding the four IDX gzip files.
        verify_md5: check the files against the published md5 sums.
        val_fraction: share of the training images held out for validation.
        test_fraction: share held out for test (``digits`` only: Fashion-MNIST has its own).
        limit_train: keep only this many training images (0: all), for quick studies.
        augment: on-device augmentation of training batches; ``None`` for none.
        batch_size, eval_batch_size, loader, num_workers, drop_last, seed: see
            :class:`~trainer.data.base.TensorDataModule`.
    """

    task = MulticlassObjective.name

    def __init__(
        self,
        *,
        name: str = "digits",
        folder: str | None = None,
        verify_md5: bool = True,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        limit_train: int = 0,
        augment: ImageAugment | None = None,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        loader: str = "device",
        num_workers: int = 0,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            loader=loader,
            num_workers=num_workers,
            drop_last=drop_last,
            seed=seed,
        )
        if name not in IMAGE_SETS:
            raise ConfigError(
                f"data.name={name!r} is not an image set; choose one of {', '.join(IMAGE_SETS)}."
            )
        if name == "fashion_mnist" and not folder:
            raise ConfigError(
                "data=fashion_mnist needs data.folder=/path/to/folder holding the four IDX .gz files."
            )
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < value < 0.5:
                raise ConfigError(f"data.{key}={value} must be in (0, 0.5).")
        if limit_train < 0:
            raise ConfigError(f"data.limit_train={limit_train} must be 0 (all) or more.")
        self.name = name
        self.folder = Path(folder).expanduser() if folder else None
        self.verify_md5 = verify_md5
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.limit_train = limit_train
        self.augment = augment

    def setup(self) -> None:
        """Load, split (stratified, seeded) and standardise with training statistics (idempotent)."""
        if self._ready:
            return
        if self.name == "digits":
            bunch = load_digits()
            images = bunch.images.astype(np.float32) / 16.0  # pixel values are 0..16
            labels = bunch.target.astype(np.int64)
            rest_x, test_x, rest_y, test_y = train_test_split(
                images, labels, test_size=self.test_fraction, stratify=labels, random_state=self.seed
            )
            self.classes_ = [int(c) for c in range(10)]
        else:
            assert self.folder is not None
            train_raw, train_labels, test_raw, test_labels = read_fashion_mnist(
                self.folder, verify_md5=self.verify_md5, key="data.folder"
            )
            rest_x, rest_y = train_raw.astype(np.float32) / 255.0, train_labels.astype(np.int64)
            test_x, test_y = test_raw.astype(np.float32) / 255.0, test_labels.astype(np.int64)
            self.classes_ = list(FASHION_MNIST_CLASSES)
        # Stratify where every class can appear in both parts (tiny test files may not allow it).
        enough = np.bincount(rest_y).min() >= 2 and len(rest_y) * self.val_fraction >= len(self.classes_)
        stratify = rest_y if enough else None
        train_x, val_x, train_y, val_y = train_test_split(
            rest_x, rest_y, test_size=self.val_fraction, stratify=stratify, random_state=self.seed
        )
        if self.limit_train:
            train_x, train_y = train_x[: self.limit_train], train_y[: self.limit_train]
        # Statistics of the training pixels only: validation and test never inform preprocessing.
        self.mean_, self.std_ = float(train_x.mean()), float(train_x.std()) or 1.0

        def to_tensor(x: np.ndarray) -> torch.Tensor:  # (N, H, W) -> (N, 1, H, W)
            return torch.as_tensor((x - self.mean_) / self.std_, dtype=torch.float32).unsqueeze(1)

        for split, x, y in (("train", train_x, train_y), ("val", val_x, val_y), ("test", test_x, test_y)):
            self._tensors[split] = (to_tensor(x), torch.as_tensor(y))
        self._ready = True
        log.info("Images %s: %s, shape %s.", self.name, self.split_sizes(), self.input_shape)

    def augmentation(self) -> ImageAugment | None:
        if self.augment is None or not self.augment.active:
            return None
        # Shifted-in border pixels take the value a blank (0) pixel has after standardising.
        self.augment.fill = -self.mean_ / self.std_
        return self.augment

    def datasets(self) -> dict[str, pd.DataFrame]:
        # Pixels as a tracked table help nobody; the labels per split show the class balance.
        return {
            split: pd.DataFrame({"label": self.labels(split).numpy()}) for split in ("train", "val", "test")
        }

    def describe(self) -> dict[str, Any]:
        self.setup()
        source = "sklearn.datasets.load_digits" if self.name == "digits" else str(self.folder)
        return {
            "name": self.name,
            "source": source,
            "target": "label",
            "task": self.task,
            "input_shape": list(self.input_shape),
            **self.split_sizes(),
        }
