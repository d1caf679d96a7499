"""Column checks and the preprocessing fit on training rows only.

Numeric columns: median imputation, then standard scaling. Categorical columns: a
``missing`` category, then one-hot encoding that ignores categories unseen in training.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from trainer.errors import DataError

log = logging.getLogger(__name__)


def check_columns(frame: pd.DataFrame, names: Sequence[str], *, key: str, where: str) -> None:
    """Every name in ``names`` must be a column; otherwise name the closest columns."""
    for name in names:
        if name not in frame.columns:
            close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            columns = ", ".join(map(str, frame.columns[:30])) + (" ..." if frame.shape[1] > 30 else "")
            raise DataError(f"{key}={name!r} is not a column of {where} (columns: {columns}).{hint}")


def split_column_kinds(
    frame: pd.DataFrame, *, categorical: Sequence[str] | None, where: str
) -> tuple[list[str], list[str]]:
    """Decide which feature columns are numeric and which categorical, and check the numeric ones.

    With ``categorical=None`` text, category and boolean columns are categorical, except a text
    column whose values are nearly all numbers: that is a numeric column with bad values, and
    treating it as categories would hide the problem.

    Raises:
        DataError: a numeric column holds a value that is not a number.
    """
    declared = list(categorical) if categorical is not None else None
    if declared is not None:
        check_columns(frame, declared, key="data.categorical", where=where)
    numeric, categories = [], []
    for column in frame.columns:
        series = frame[column]
        if declared is not None:
            is_categorical = column in declared
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            is_categorical = False
        else:
            parsed = pd.to_numeric(series.dropna(), errors="coerce")
            mostly_numbers = len(parsed) > 0 and parsed.notna().mean() >= 0.9
            # to_numeric takes True/False for numbers; a boolean column with gaps lands here too.
            is_boolean = pd.api.types.infer_dtype(series, skipna=True) == "boolean"
            is_categorical = is_boolean or not mostly_numbers
        if is_categorical:
            categories.append(str(column))
            continue
        parsed = pd.to_numeric(series, errors="coerce")
        bad = parsed.isna() & series.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"Column {column!r} of {where} is numeric but row {row} (data rows counted from 0) holds "
                f"{series.iloc[row]!r} ({int(bad.sum())} such values). Fix the values, or list the column in "
                "data.categorical to one-hot encode it, or in data.drop to leave it out."
            )
        numeric.append(str(column))
    return numeric, categories


def leave_out_empty_columns(
    train_rows: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], *, where: str
) -> tuple[list[str], list[str]]:
    """``numeric`` and ``categorical`` without the columns that hold no value in the training rows.

    The imputer has nothing to learn from such a column (scikit-learn's drops it from its output,
    so the features would no longer match the columns); every command leaves it out here, with
    one warning naming it.

    Raises:
        DataError: no feature column has a value in the training rows.
    """
    empty = [str(c) for c in train_rows.columns if train_rows[c].isna().all()]
    if not empty:
        return list(numeric), list(categorical)
    if len(empty) == len(train_rows.columns):
        raise DataError(
            f"No feature column of {where} has a value in the training rows ({', '.join(empty[:10])}); "
            "check the file, its separator (data.source.sep) and data.drop."
        )
    names = ", ".join(map(repr, empty))
    log.warning(
        "%s of %s %s no value in the training rows and %s left out of the features; "
        "data.drop=[%s] says so and silences this.",
        f"Column {names}" if len(empty) == 1 else f"Columns {names}",
        where,
        "has" if len(empty) == 1 else "have",
        "is" if len(empty) == 1 else "are",
        ",".join(empty),
    )
    return [c for c in numeric if c not in empty], [c for c in categorical if c not in empty]


def build_preprocessor(numeric: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    """An unfitted ColumnTransformer for these columns (fit it on the training split only)."""
    parts = []
    if numeric:
        parts.append(
            (
                "num",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                list(numeric),
            )
        )
    if categorical:
        parts.append(
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                list(categorical),
            )
        )
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def coerce_numeric(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Numeric columns as floats and categorical ones as text, ready for the preprocessor."""
    out = frame.copy()
    for column in numeric:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    for column in categorical:
        out[column] = out[column].astype("object").where(out[column].notna(), np.nan)
        out[column] = out[column].map(lambda v: v if isinstance(v, float) and np.isnan(v) else str(v))
    return out
