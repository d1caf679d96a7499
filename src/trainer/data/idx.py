"""Read the IDX format (MNIST, Fashion-MNIST) from gzip files, with the published md5 sums.

IDX: a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32 sizes,
then the values in C order. No network is used: the files are read from a folder the user fills.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from trainer.errors import DataError

#: type byte -> numpy dtype (big-endian where it matters), from the format's description.
IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: The four Fashion-MNIST files and their md5 as published by Zalando Research (and torchvision).
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_MNIST_URL = "https://github.com/zalandoresearch/fashion-mnist/tree/master/data/fashion"
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzip or plain, told apart by its first bytes) as a numpy array.

    Raises:
        DataError: the file is not IDX, or its size disagrees with its header.
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path} is a damaged gzip file ({exc}); fetch it again.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (its first bytes are {raw[:4].hex()}).")
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path} holds {len(raw) - header} bytes of values, but its header says {shape} "
            f"({expected} bytes); the file is truncated or damaged."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: Path, values: np.ndarray) -> Path:
    """Write ``values`` (uint8) as a gzip IDX file; tests and tools build tiny files with it."""
    array = np.ascontiguousarray(values, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.tobytes(), mtime=0))
    return path


def check_folder(folder: Path, files: dict[str, str], *, verify_md5: bool, key: str) -> None:
    """Stop with one message naming every missing file, or the first whose md5 is wrong.

    Args:
        folder: where the files should be.
        files: file name -> published md5.
        verify_md5: compare each file's md5 with the published value.
        key: the config key that names the folder (for the message).
    """
    names = "\n  ".join(files)
    if not folder.is_dir():
        raise DataError(
            f"{key}={str(folder)!r} is not a folder. Create it and put the four Fashion-MNIST files "
            f"in it, unchanged (still gzipped):\n  {names}\nfrom {FASHION_MNIST_URL} "
            f"(or pass {key}=/where/they/are)."
        )
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{key}={str(folder)!r} lacks {', '.join(missing)}. Put these files there, unchanged "
            f"(still gzipped):\n  {names}\nfrom {FASHION_MNIST_URL}."
        )
    if not verify_md5:
        return
    for name, expected in files.items():
        found = md5_of(folder / name)
        if found != expected:
            raise DataError(
                f"{folder / name} has md5 {found}, not the published {expected}: the file is damaged "
                "or is another data set. Fetch it again, or pass data.verify_md5=false to use it anyway."
            )


def read_fashion_mnist(
    folder: Path, *, verify_md5: bool = True, key: str = "data.folder"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four Fashion-MNIST arrays ``(train_images, train_labels, test_images, test_labels)``.

    Images are ``(n, 28, 28)`` uint8, labels ``(n,)`` uint8.

    Raises:
        DataError: a missing folder or file, a wrong md5, or image and label counts that differ.
    """
    check_folder(folder, FASHION_MNIST_FILES, verify_md5=verify_md5, key=key)
    arrays = [read_idx(folder / name) for name in FASHION_MNIST_FILES]
    train_x, train_y, test_x, test_y = arrays
    for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"The {split} files in {folder} do not pair up: images {images.shape}, labels "
                f"{labels.shape}; expected (n, rows, cols) images and n labels."
            )
    return train_x, train_y, test_x, test_y
