"""Explanations a person can read, in the table's own column names.

- :func:`permutation_importance_ap`: how much the test average precision drops when one raw
  column is shuffled (all of a categorical column's one-hot features move together, because
  the shuffle happens before preprocessing).
- :func:`flagged_rows`: for each flagged row of the autoencoder, the raw columns that make up
  most of its reconstruction error (one-hot errors summed back into their column).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score

from trainer.data.feature_layout import FeatureLayout


def permutation_importance_ap(
    score_frame: Callable[[pd.DataFrame], np.ndarray],
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
) -> pd.DataFrame:
    """Drop in average precision when each raw column is shuffled.

    Args:
        score_frame: raw feature rows -> scores (the approach's whole pipeline).
        frame: raw feature rows of the split to explain on.
        y: their 0/1 labels.
        n_repeats: shuffles per column.
        random_state: seed of the shuffles.

    Returns:
        Columns ``column``, ``importance`` (mean AP drop), ``std``, sorted by importance.
    """
    rng = np.random.default_rng(random_state)
    baseline = average_precision_score(y, score_frame(frame))
    rows = []
    for column in frame.columns:
        drops = []
        for _ in range(n_repeats):
            shuffled = frame.copy()
            shuffled[column] = rng.permutation(shuffled[column].to_numpy())
            drops.append(baseline - average_precision_score(y, score_frame(shuffled)))
        rows.append({"column": column, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    table = pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)
    table.attrs["baseline_ap"] = float(baseline)
    return table


def flagged_rows(
    feature_errors: Callable[[torch.Tensor], np.ndarray],
    x: torch.Tensor,
    scores: np.ndarray,
    *,
    threshold: float,
    layout: FeatureLayout,
    labels: np.ndarray,
    top_columns: int = 3,
    max_rows: int = 20,
) -> pd.DataFrame:
    """The columns behind each flagged row's reconstruction error, most suspicious rows first.

    Args:
        feature_errors: ``(rows, features)`` -> per-feature squared errors.
        x: ``(rows, features)`` preprocessed rows of the split.
        scores: their per-row errors.
        threshold: rows with ``score >= threshold`` are flagged.
        layout: maps features back to raw columns.
        labels: 0/1 labels (shown beside each row, so a reader sees hits and false alarms).
        top_columns: columns listed per row.
        max_rows: rows listed.

    Returns:
        One row per flagged row: ``row`` (position in the split), ``score``, ``fraud`` and
        ``column_1``/``share_1`` ... (the share of the row's error from that column).
    """
    flagged = np.flatnonzero(np.asarray(scores) >= threshold)
    flagged = flagged[np.argsort(-np.asarray(scores)[flagged], kind="stable")][:max_rows]
    if len(flagged) == 0:
        return pd.DataFrame(columns=["row", "score", "fraud"])
    errors = feature_errors(x[torch.as_tensor(flagged)])  # (flagged, features)
    per_column = layout.per_column(errors)
    names = list(per_column)
    matrix = np.column_stack([per_column[n] for n in names])  # (flagged, raw columns)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)
    out = []
    for i, row in enumerate(flagged):
        entry: dict[str, object] = {"row": int(row), "score": float(scores[row]), "fraud": int(labels[row])}
        for rank, j in enumerate(np.argsort(-shares[i])[:top_columns], start=1):
            entry[f"column_{rank}"] = names[j]
            entry[f"share_{rank}"] = round(float(shares[i, j]), 3)
        out.append(entry)
    return pd.DataFrame(out)


def top_columns_overall(table: pd.DataFrame) -> pd.DataFrame:
    """How often each column is the top contributor among the flagged rows."""
    if "column_1" not in table:
        return pd.DataFrame(columns=["column", "rows"])
    counts = table["column_1"].value_counts()
    return pd.DataFrame({"column": counts.index, "rows": counts.to_numpy()})
