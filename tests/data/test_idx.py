"""The IDX reader on tiny files: round trip, md5 check against the published sums, clear messages."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from trainer.data import ImageDataModule
from trainer.data.idx import FASHION_MNIST_FILES, md5_of, read_fashion_mnist, read_idx, write_idx
from trainer.errors import DataError

from .helpers_files import write_tiny_fashion_mnist


def test_write_then_read_gives_back_the_array(tmp_path: Path) -> None:
    values = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", values)), values)
    plain = tmp_path / "plain-idx"
    plain.write_bytes(gzip.decompress((tmp_path / "a.gz").read_bytes()))  # an unzipped copy reads too
    assert np.array_equal(read_idx(plain), values)


def test_a_truncated_file_says_so(tmp_path: Path) -> None:
    raw = gzip.decompress(write_idx(tmp_path / "a.gz", np.zeros((4, 5), np.uint8)).read_bytes())
    (tmp_path / "b.gz").write_bytes(gzip.compress(raw[:-3]))
    with pytest.raises(DataError, match="truncated or damaged"):
        read_idx(tmp_path / "b.gz")
    (tmp_path / "c.gz").write_bytes(b"not idx at all")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "c.gz")


def test_a_missing_folder_names_every_file_to_put_there(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        read_fashion_mnist(tmp_path / "nowhere")
    message = str(caught.value)
    assert "is not a folder" in message and "data.folder" in message
    assert all(name in message for name in FASHION_MNIST_FILES)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    folder = write_tiny_fashion_mnist(tmp_path / "fm")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\.gz"):
        read_fashion_mnist(folder, verify_md5=False)


def test_md5_is_checked_against_the_published_values(tmp_path: Path) -> None:
    folder = write_tiny_fashion_mnist(tmp_path / "fm")
    first = next(iter(FASHION_MNIST_FILES))
    with pytest.raises(DataError) as caught:
        read_fashion_mnist(folder)  # tiny files are not the published ones
    message = str(caught.value)
    assert md5_of(folder / first) in message and FASHION_MNIST_FILES[first] in message
    assert "data.verify_md5=false" in message
    train_x, _, _, test_y = read_fashion_mnist(folder, verify_md5=False)
    assert train_x.shape == (60, 28, 28) and test_y.shape == (20,)


def test_fashion_mnist_datamodule_keeps_t10k_as_its_test_split(tmp_path: Path) -> None:
    folder = write_tiny_fashion_mnist(tmp_path / "fm")
    dm = ImageDataModule(name="fashion_mnist", folder=str(folder), verify_md5=False, val_fraction=0.2)
    dm.setup()
    assert dm.input_shape == (1, 28, 28) and dm.num_features == 784 and dm.num_classes == 10
    assert len(dm.labels("test")) == 20 and len(dm.labels("train")) + len(dm.labels("val")) == 60
    assert abs(float(dm.tensors("train")[0].mean())) < 1e-4  # standardised with training pixels
