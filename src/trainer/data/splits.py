"""Train/validation/test splits: stratified random, plain random, or by a time column."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from trainer.errors import ConfigError, DataError

SPLITS = ("stratified", "random", "time")


@dataclass(frozen=True)
class SplitIndices:
    """Row positions of each split in the loaded table."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def check_row_count(rows: int, *, val_fraction: float, test_fraction: float, where: str) -> None:
    """Refuse a table with fewer rows than the splits it must fill (one each, at the very least).

    Without this, a one-row table is reported as "a single class" and a two-row one as a
    stratification failure: true, but the cause is the size of the file.

    Raises:
        DataError: naming the table, its row count and the least it needs.
    """
    splits = [
        "training",
        *(["validation"] if val_fraction > 0 else []),
        *(["test"] if test_fraction > 0 else []),
    ]
    if rows >= len(splits):
        return
    have = f"{rows} row" + ("" if rows == 1 else "s")
    raise DataError(
        f"{where} has {have}; the {'/'.join(splits)} split needs at least {len(splits)} (one each), "
        "and training needs far more. Point the data at the full table."
    )


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"data.{name}={value} must be in [0, 1).")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} leaves no "
            "training rows; keep their sum below 1."
        )


def random_split(
    labels: np.ndarray, *, val_fraction: float, test_fraction: float, stratify: bool, seed: int
) -> SplitIndices:
    """Shuffle rows into three splits; with ``stratify`` each keeps the class proportions."""
    _check_fractions(val_fraction, test_fraction)
    rows = np.arange(len(labels))

    def cut(index: np.ndarray, fraction: float, salt: int) -> tuple[np.ndarray, np.ndarray]:
        if fraction == 0.0:
            return index, index[:0]
        try:
            kept, taken = train_test_split(
                index,
                test_size=fraction,
                random_state=seed + salt,
                stratify=labels[index] if stratify else None,
            )
        except ValueError as exc:  # sklearn: "The least populated class in y has only 1 member"
            raise DataError(
                f"A stratified split is impossible here: {exc}. Give each class more rows, "
                "lower data.val_fraction/data.test_fraction, or use data.split=random."
            ) from None
        return np.sort(kept), np.sort(taken)

    rest, test = cut(rows, test_fraction, 0)
    train, val = cut(rest, val_fraction / (1.0 - test_fraction), 1)
    return SplitIndices(train, val, test)


def time_split(
    times: pd.Series,
    *,
    val_fraction: float,
    test_fraction: float,
    val_start: object | None = None,
    test_start: object | None = None,
) -> SplitIndices:
    """Earlier rows train, later rows validate and test: no look-ahead.

    With ``test_start`` (and ``val_start``) the cut is at those values of the time column
    (``test_start=1996`` tests on 1996 and later); otherwise the last fractions of rows
    in time order are taken.
    """
    order = np.argsort(times.to_numpy(), kind="stable")
    n = len(order)
    if test_start is not None or val_start is not None:
        values = times.to_numpy()
        test_mask = values >= test_start if test_start is not None else np.zeros(n, bool)
        val_mask = (values >= val_start) & ~test_mask if val_start is not None else np.zeros(n, bool)
        train = np.flatnonzero(~test_mask & ~val_mask)
        if len(train) == 0:
            raise DataError(
                f"data.val_start={val_start!r} / data.test_start={test_start!r} leave no training "
                f"rows (time values range from {values.min()!r} to {values.max()!r})."
            )
        return SplitIndices(train, np.flatnonzero(val_mask), np.flatnonzero(test_mask))
    _check_fractions(val_fraction, test_fraction)
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    train = order[: n - n_test - n_val]
    val = order[n - n_test - n_val : n - n_test]
    test = order[n - n_test :]
    return SplitIndices(np.sort(train), np.sort(val), np.sort(test))
