"""Say what a file really is from its first bytes, so a wrong file gets a message that names it.

A PNG given as a CSV otherwise fails with "'utf-8' codec can't decode byte 0x89", and a text
file given as a checkpoint with "invalid load key, 'h'". Both mean "this is the wrong file",
which the first bytes (the "magic number" most formats begin with) tell us for certain.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

#: The ``compression`` names pandas reads.
Compression = Literal["gzip", "bz2", "xz", "zstd", "zip"]

#: How many bytes are read to decide; enough for every signature and a line of text.
HEAD_BYTES = 4096

#: Leading bytes -> (what the file is, the pandas ``compression`` that reads it, if any).
#: Order matters only where one signature is a prefix of another (none today).
SIGNATURES: tuple[tuple[bytes, str, Compression | None], ...] = (
    (b"\x1f\x8b", "a gzip file", "gzip"),
    (b"BZh", "a bzip2 file", "bz2"),
    (b"\xfd7zXZ\x00", "an xz file", "xz"),
    (b"(\xb5/\xfd", "a zstd file", "zstd"),
    (b"PK\x03\x04", "a zip archive", "zip"),
    (b"PK\x05\x06", "an empty zip archive", None),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF87a", "a GIF image", None),
    (b"GIF89a", "a GIF image", None),
    (b"%PDF", "a PDF document", None),
    (b"PAR1", "a Parquet file (read it with pandas.read_parquet and save it as CSV)", None),
    (b"ARROW1", "an Arrow/Feather file", None),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file", None),
    (b"SQLite format 3\x00", "a SQLite database", None),
    (b"\x93NUMPY", "a NumPy .npy array", None),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office file (.xls/.doc)", None),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive", None),
    (b"Rar!\x1a\x07", "a RAR archive", None),
    (b"\x7fELF", "an executable (ELF)", None),
    # Pickle protocol 2-5 opcodes: torch.save's legacy format and pickle.dump both start so.
    (b"\x80\x02", "a Python pickle", None),
    (b"\x80\x03", "a Python pickle", None),
    (b"\x80\x04", "a Python pickle", None),
    (b"\x80\x05", "a Python pickle", None),
)


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of ``path``."""
    with path.open("rb") as handle:
        return handle.read(size)


def compression_of(head: bytes) -> Compression | None:
    """The pandas ``compression`` name for a compressed file's first bytes, else ``None``."""
    for magic, _, compression in SIGNATURES:
        if head.startswith(magic):
            return compression
    return None


def is_text(head: bytes) -> bool:
    """Whether ``head`` reads as UTF-8 text (a multi-byte character cut at the end is allowed)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only the last, cut character failed
    return True


def describe_file(path: Path) -> str:
    """What ``path`` is, in words: "an empty file", "a gzip file", "a text file starting with '...'".

    Args:
        path: an existing regular file.

    Returns:
        A phrase that completes "The file is ...".
    """
    head = read_head(path)
    if not head:
        return "an empty file"
    for magic, what, _ in SIGNATURES:
        if head.startswith(magic):
            return _describe_zip(path) if magic == b"PK\x03\x04" else what
    if is_text(head):
        first_line = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[0:1]
        start = first_line[0].strip()[:40] if first_line else ""
        return f"a text file starting with {start!r}"
    return f"a binary file starting with bytes {head[:8].hex(' ')}"


def _describe_zip(path: Path) -> str:
    """Office documents and torch checkpoints are zip archives too: name the kind."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "a damaged zip archive"
    if any(name.startswith("xl/") for name in names):
        return "an Excel workbook (.xlsx); save it as CSV"
    if any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return "a PyTorch file (torch.save)"
    return f"a zip archive holding {len(names)} file(s)"
