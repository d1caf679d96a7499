"""The comparison report: comparison.csv, comparison.md, overlaid curves, the error histogram,
and the same table in the terminal."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from trainer.fraud.selection import best_network

#: Leading columns of comparison.csv, in this order; detail columns follow.
MAIN_COLUMNS = ["approach", "ap", "roc_auc", "precision", "recall", "f1", "threshold", "sampler"]
DETAIL_COLUMNS = ["precision_at_k", "tp", "fp", "fn", "tn", "accuracy", "no_skill_accuracy", "val_ap", "rule"]


def comparison_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """One row per approach, main columns first, in the order the approaches ran."""
    frame = pd.DataFrame(rows)
    ordered = [c for c in MAIN_COLUMNS + DETAIL_COLUMNS if c in frame.columns]
    return frame[ordered + [c for c in frame.columns if c not in ordered]]


#: The scikit-learn references of each kind, the bars ours must clear (the autoencoder is ours).
REFERENCES = {
    "classifier": ("hgb", "logistic"),
    "anomaly": ("isolation_forest", "lof", "knn", "pca"),
}


def strongest_references(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Kind (``classifier``, ``anomaly``) -> the row of its reference with the highest test AP;
    a kind none of whose references ran (or has a test AP) is left out."""
    strongest: dict[str, pd.Series] = {}
    ap = pd.to_numeric(frame["ap"], errors="coerce").to_numpy(dtype=float)
    for kind, names in REFERENCES.items():
        ran = np.flatnonzero(frame["approach"].isin(names).to_numpy() & np.isfinite(ap))
        if len(ran):  # the first of equals, in the table's order
            strongest[kind] = frame.iloc[int(ran[np.argmax(ap[ran])])]
    return strongest


def reference_lines(frame: pd.DataFrame) -> list[str]:
    """One line per kind naming its strongest reference and its test AP (the report, the terminal
    and the parent run's description all say these)."""
    lines = []
    for kind, row in strongest_references(frame).items():
        ran = [n for n in REFERENCES[kind] if n in set(frame["approach"])]
        lines.append(
            f"Strongest {kind} reference (of {', '.join(ran)}): {row['approach']}, "
            f"test AP {_cell(float(row['ap']))}"
        )
    return lines


def verdict_lines(frame: pd.DataFrame) -> list[str]:
    """The network the study would pick (validation AP, a tie broken by validation loss), then
    the strongest reference of each kind: what the report, the terminal and the parent run's
    description say under the table."""
    pick = best_network(frame) if {"family", "val_ap", "val_loss"} <= set(frame.columns) else None
    return ([pick.sentence().rstrip(".")] if pick else []) + reference_lines(frame)


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "n/a" if not math.isfinite(float(value)) else f"{float(value):.4g}"
    return str(value)


def to_markdown(frame: pd.DataFrame, *, columns: list[str] | None = None) -> str:
    """A GitHub table of ``frame`` (no extra dependency)."""
    columns = columns or [c for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_tables(
    frame: pd.DataFrame, directory: Path, *, title: str, skipped: dict[str, str] | None = None
) -> list[Path]:
    """``comparison.csv`` (all columns) and ``comparison.md`` (the main ones plus accuracy, then
    the approaches ``skipped`` because they do not apply to the table, with the reason)."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "comparison.csv"
    frame.to_csv(csv_path, index=False)
    shown = [c for c in [*MAIN_COLUMNS, "precision_at_k", "accuracy", "no_skill_accuracy"] if c in frame]
    md_path = directory / "comparison.md"
    md_path.write_text(
        f"# {title}\n\nTest split; thresholds chosen on validation rows. Accuracy is shown only beside "
        "the accuracy of never flagging fraud.\n\n"
        + to_markdown(frame, columns=shown)
        + "".join(f"\n{line}\n" for line in verdict_lines(frame))
        + skipped_lines(skipped)
    )
    return [csv_path, md_path]


def skipped_lines(skipped: dict[str, str] | None) -> str:
    """The approaches that did not run, one line each with the reason ("" when none)."""
    if not skipped:
        return ""
    lines = [f"- {name}: {reason}" for name, reason in skipped.items()]
    return "\nSkipped (they do not apply to this table):\n\n" + "\n".join(lines) + "\n"


def curves(scores: dict[str, np.ndarray], y: np.ndarray, directory: Path) -> list[Path]:
    """Overlaid precision-recall and ROC curves of every approach on the test split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    directory.mkdir(parents=True, exist_ok=True)
    if len(np.unique(y)) < 2:
        return []
    pr_fig, pr_ax = plt.subplots(figsize=(7, 5))
    roc_fig, roc_ax = plt.subplots(figsize=(7, 5))
    for name, s in scores.items():
        if np.ptp(s) == 0:  # a constant score (no skill) is the dashed reference line instead
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        pr_ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, s):.3f})")
        fpr, tpr, _ = roc_curve(y, s)
        roc_ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    pr_ax.axhline(float(np.mean(y)), color="grey", linestyle="--", label=f"no skill ({np.mean(y):.3f})")
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="no skill")
    for ax, xlabel, ylabel in ((pr_ax, "recall", "precision"), (roc_ax, "false positive rate", "recall")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    pr_ax.set_title("Precision-recall, test split")
    roc_ax.set_title("ROC, test split")
    paths = [directory / "pr_curves.png", directory / "roc_curves.png"]
    for fig, path in zip((pr_fig, roc_fig), paths, strict=True):
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return paths


def error_histogram(errors: np.ndarray, y: np.ndarray, threshold: float, path: Path) -> Path:
    """The autoencoder's test reconstruction errors by class, log scale, with the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    positive = np.maximum(errors, 1e-12)
    bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()) + 1e-9, 50).tolist()
    ax.hist(positive[y == 0], bins=bins, alpha=0.6, density=True, label="normal")
    ax.hist(positive[y == 1], bins=bins, alpha=0.6, density=True, label="fraud")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("reconstruction error (mean squared, per row)")
    ax.set_ylabel("density")
    ax.set_title("Autoencoder errors on the test split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: What each family's threshold is measured in (the terminal table says it beside the number).
THRESHOLD_UNITS = {
    "network": "probability",
    "reference": "probability",
    "baseline": "probability",
    "anomaly": "anomaly score",
}


def terminal_rows(frame: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """The comparison as the terminal shows it: best test AP first (undefined last), metrics
    with three fixed decimals, each threshold with its unit, the winner marked with ``*``."""
    ranked = frame.assign(_ap=pd.to_numeric(frame["ap"], errors="coerce")).sort_values(
        "_ap", ascending=False, na_position="last", kind="stable"
    )
    best = ranked["_ap"].max()
    rows = []
    for _, row in ranked.iterrows():
        cells = []
        for column in columns:
            value = row[column]
            if column == "approach":
                won = math.isfinite(best) and row["_ap"] == best
                cells.append(f"* {value}" if won else f"  {value}")
            elif column == "threshold":
                unit = THRESHOLD_UNITS.get(str(row.get("family", "")), "score")
                cells.append("n/a" if not _finite(value) else f"{float(value):.3g} {unit}")
            elif column in ("tp", "fp", "fn", "tn") or not isinstance(value, float | np.floating):
                cells.append(str(value))
            else:
                cells.append("n/a" if not _finite(value) else f"{float(value):.3f}")
        rows.append(cells)
    return rows


def _finite(value: object) -> bool:
    return isinstance(value, int | float | np.number) and math.isfinite(float(value))


def print_table(frame: pd.DataFrame, *, title: str, skipped: dict[str, str] | None = None) -> None:
    """The comparison in the terminal (rich), best test AP first and marked; then the skipped
    approaches."""
    from rich.console import Console
    from rich.table import Table

    columns = [c for c in [*MAIN_COLUMNS, "precision_at_k", "accuracy", "no_skill_accuracy"] if c in frame]
    table = Table(title=title, caption="* highest test AP; thresholds were chosen on validation rows")
    for column in columns:
        table.add_column(column, justify="left" if column in ("approach", "sampler") else "right")
    for cells in terminal_rows(frame, columns):
        table.add_row(*cells, style="bold green" if cells[0].startswith("*") else None)
    console = Console()
    if not console.is_terminal:  # piped or logged: rich would squeeze the table into 80 columns
        console = Console(width=200)
    console.print(table)
    for line in verdict_lines(frame):
        print(line)
    if skipped:
        print(skipped_lines(skipped).strip("\n"))
