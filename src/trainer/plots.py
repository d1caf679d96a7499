"""The run's pictures (PNG): learning curves, confusion matrix, ROC and PR curves, residuals,
reconstruction errors by class, and the learning-rate schedule."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn import metrics as skm


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_curves(history: list[dict[str, float]], path: Path) -> Path | None:
    """Train vs validation loss per epoch: the picture of over- and under-fitting."""
    rows = [r for r in history if "train/loss" in r]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in rows]
    ax.plot(epochs, [r["train/loss"] for r in rows], marker=".", label="train")
    val = [(r["epoch"], r["val/loss"]) for r in rows if "val/loss" in r and math.isfinite(r["val/loss"])]
    if val:
        ax.plot(*zip(*val, strict=True), marker=".", label="validation")
        best_epoch, best_loss = min(val, key=lambda point: point[1])  # the first of equal lows
        ax.axvline(best_epoch, color="gray", linestyle="--", linewidth=1)
        ax.annotate(
            f"lowest validation loss\nepoch {best_epoch:g}: {best_loss:.4g}",
            xy=(best_epoch, best_loss),
            xytext=(6, 12),
            textcoords="offset points",
            fontsize=8,
            color="dimgray",
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set(xlabel="epoch", ylabel="loss", title="Learning curves")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def learning_rate(history: list[tuple[int, float]], path: Path) -> Path | None:
    """The learning rate against the optimizer step; None when there is no schedule to show (a
    flat line says nothing the run's params do not)."""
    if not history or len({rate for _, rate in history}) == 1:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps, rates = zip(*history, strict=True)
    ax.plot(steps, rates)
    ax.set(xlabel="step", ylabel="learning rate", title="Learning-rate schedule")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def confusion_matrix(matrix: np.ndarray, labels: list[Any], path: Path) -> Path:
    # At least 4.5 inches: a binary matrix at 0.6 inch a class was too small to read.
    side = max(4.5, 1.0 + 0.6 * len(labels))
    fig, ax = plt.subplots(figsize=(side, side - 0.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            fontsize=12 if len(labels) <= 4 else 9,
            color="white" if count > matrix.max() / 2 else "black",
        )
    ax.set_xticks(range(len(labels)), [str(c) for c in labels], rotation=45 if len(labels) > 4 else 0)
    ax.set_yticks(range(len(labels)), [str(c) for c in labels])
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    return _save(fig, path)


def roc_and_pr(
    y_true: np.ndarray, scores: np.ndarray, directory: Path, *, threshold: float = 0.5
) -> list[Path]:
    """ROC and precision-recall curves of a binary score (skipped for a one-class split), each
    with the operating point of ``threshold`` marked and the legend below the axes, off the curve."""
    if len(np.unique(y_true)) < 2:
        return []
    flagged = scores >= threshold
    positives, negatives = max(int(y_true.sum()), 1), max(int((1 - y_true).sum()), 1)
    tp = int((flagged & (y_true == 1)).sum())
    point_recall, point_fpr = tp / positives, int((flagged & (y_true == 0)).sum()) / negatives
    point_precision = tp / int(flagged.sum()) if flagged.any() else 1.0
    at = f"threshold {threshold:g}"

    fpr, tpr, _ = skm.roc_curve(y_true, scores)
    fig, ax = plt.subplots(figsize=(5, 5.6))
    ax.plot(fpr, tpr, label=f"model (AUC = {skm.roc_auc_score(y_true, scores):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="no skill")
    ax.plot(
        point_fpr,
        point_recall,
        "o",
        color="black",
        label=f"{at}: TPR {point_recall:.2f}, FPR {point_fpr:.2f}",
    )
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    _legend_below(ax)
    roc = _save(fig, directory / "roc_curve.png")
    precision, recall, _ = skm.precision_recall_curve(y_true, scores)
    fig, ax = plt.subplots(figsize=(5, 5.6))
    ax.plot(recall, precision, label=f"model (AP = {skm.average_precision_score(y_true, scores):.3f})")
    ax.axhline(float(np.mean(y_true)), linestyle="--", color="grey", label="no skill (positive rate)")
    ax.plot(
        point_recall,
        point_precision,
        "o",
        color="black",
        label=f"{at}: precision {point_precision:.2f}, recall {point_recall:.2f}",
    )
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)", ylim=(0, 1.02))
    _legend_below(ax)
    return [roc, _save(fig, directory / "pr_curve.png")]


def _legend_below(ax: Any) -> None:
    # Below the axes: inside, any corner can hide a part of some curve.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False, fontsize=9)


def residuals(y_true: np.ndarray, y_pred: np.ndarray, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    left.scatter(y_true, y_pred, s=8, alpha=0.6)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    left.plot([low, high], [low, high], linestyle="--", color="grey")
    left.set(xlabel="true", ylabel="predicted", title="Predicted vs true (test)")
    right.scatter(y_pred, y_true - y_pred, s=8, alpha=0.6)
    right.axhline(0, linestyle="--", color="grey")
    right.set(xlabel="predicted", ylabel="residual", title="Residuals (test)")
    return _save(fig, path)


def reconstruction_errors(errors: np.ndarray, labels: np.ndarray, path: Path) -> Path:
    """Histogram of per-row reconstruction error, one colour per label."""
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.histogram_bin_edges(errors, bins=40).tolist()
    for value in np.unique(labels):
        ax.hist(errors[labels == value], bins=bins, alpha=0.6, density=True, label=f"label {value:g}")
    ax.set(
        xlabel="reconstruction error (MSE per row)",
        ylabel="density",
        title="Reconstruction error (test)",
        yscale="log",
    )
    ax.legend()
    return _save(fig, path)
