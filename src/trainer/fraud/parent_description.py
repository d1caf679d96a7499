"""The fraud study parent run's description (its MLflow page's first words): the comparison
sorted by test AP, the winner named, each approach linked to its run."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

from trainer.fraud.report import verdict_lines
from trainer.fraud.selection import best_network
from trainer.reporting.run_description import fit_to_tag, markdown_table, number

#: The columns the description shows, in this order.
SHOWN = ("ap", "roc_auc", "precision", "recall", "f1", "threshold", "rule")


def study_description(
    table: pd.DataFrame,
    *,
    child_run_ids: Mapping[str, str | None],
    skipped: Mapping[str, str],
    address: Callable[[str], str | None],
) -> str:
    """Markdown for the parent run of a fraud study.

    Args:
        table: the comparison (one row per approach, test-split metrics, ``val_ap``).
        child_run_ids: each approach's run.
        skipped: approaches that did not run, with the reason.
        address: a run id's page in the tracker's UI (None: no link).
    """
    ranked = table.assign(_ap=table["ap"].astype(float).fillna(-math.inf)).sort_values("_ap", ascending=False)
    lines = []
    if len(ranked):
        top = ranked.iloc[0]
        lines.append(
            f"**Highest test AP: {top['approach']}** ({number(top['ap'])}). Thresholds were chosen on "
            "the validation rows; average precision (AP) is the area under the precision-recall curve, "
            "which accuracy hides on a table this imbalanced."
        )
        families = (
            tuple(str(f) for f in table["family"].unique() if f != "baseline") if "family" in table else ()
        )
        pick = (
            best_network(table, families=families) if {"val_ap", "val_loss"} <= set(table.columns) else None
        )
        if pick is not None:
            test_ap = table.set_index("approach").loc[pick.name, "ap"]
            tie = (
                f"; it tied with {', '.join(pick.tied)} and has the lower validation loss"
                if pick.tied
                else ""
            )
            lines.append(
                f"Picked on validation rows alone (highest validation AP): **{pick.name}** "
                f"(validation AP {number(pick.val_ap)}, test AP {number(test_ap)}{tie})."
            )
        lines += [f"{line}." for line in verdict_lines(table)]
        lines.append("")
    columns = [c for c in SHOWN if c in ranked]
    rows = []
    for _, row in ranked.iterrows():
        run_id = child_run_ids.get(str(row["approach"]))
        link = address(run_id) if run_id else None
        name = f"[{row['approach']}]({link})" if link else str(row["approach"])
        rows.append([name, *(number(row[c]) if c != "rule" else row[c] for c in columns)])
    lines += markdown_table(["approach (test split)", *columns], rows)
    if skipped:
        lines += ["", "**Not run:**", *(f"- {name}: {why}" for name, why in skipped.items())]
    return fit_to_tag("\n".join(lines))
