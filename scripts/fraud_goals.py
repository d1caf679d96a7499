"""Issue 19's goals, measured on one comparison table of ``trainer fraud``.

Shared by ``run_fraud_study.py`` (the experiment README), ``bench_fraud.py`` (each timed round)
and ``bench_fraud_detectors.py`` (other tables):

* the network a user would pick before seeing the test split (best validation AP, a tie broken
  by validation loss: ``trainer.fraud.selection.best_network``) against the strongest reference
  classifier (hgb, logistic) by test AP;
* the autoencoder against IsolationForest and against the median test AP of the classic
  detectors (isolation_forest, lof, knn, pca).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from trainer.fraud.report import REFERENCES, strongest_references
from trainer.fraud.selection import best_network


@dataclass
class Goals:
    """Test APs behind the goals; None where the approaches behind one did not run."""

    picked: str | None = None
    picked_val_ap: float | None = None
    picked_ap: float | None = None
    tie: bool = False
    reference: str | None = None
    reference_ap: float | None = None
    autoencoder_ap: float | None = None
    autoencoder_selected_on: str = ""
    iforest_ap: float | None = None
    detectors_median: float | None = None

    @property
    def network_beats_reference(self) -> bool | None:
        if self.picked_ap is None or self.reference_ap is None:
            return None
        return self.picked_ap >= self.reference_ap

    @property
    def autoencoder_beats_iforest(self) -> bool | None:
        if self.autoencoder_ap is None or self.iforest_ap is None:
            return None
        return self.autoencoder_ap >= self.iforest_ap

    @property
    def autoencoder_beats_median(self) -> bool | None:
        if self.autoencoder_ap is None or self.detectors_median is None:
            return None
        return self.autoencoder_ap >= self.detectors_median


def measure(frame: pd.DataFrame) -> Goals:
    """The goals' numbers on one study's comparison table."""
    ap = {str(name): float(value) for name, value in zip(frame["approach"], frame["ap"], strict=True)}
    goals = Goals()
    pick = best_network(frame)
    if pick is not None:
        goals.picked, goals.picked_val_ap, goals.picked_ap = pick.name, pick.val_ap, ap[pick.name]
        goals.tie = bool(pick.tied)
    strongest = strongest_references(frame).get("classifier")
    if strongest is not None:
        goals.reference, goals.reference_ap = str(strongest["approach"]), float(strongest["ap"])
    if "autoencoder" in ap:
        goals.autoencoder_ap = ap["autoencoder"]
        goals.autoencoder_selected_on = str(
            dict(zip(frame["approach"], frame["selected_on"], strict=True))["autoencoder"]
        )
    goals.iforest_ap = ap.get("isolation_forest")
    detectors = [ap[name] for name in REFERENCES["anomaly"] if name in ap]
    goals.detectors_median = statistics.median(detectors) if detectors else None
    return goals


def goal_lines(frame: pd.DataFrame) -> list[str]:
    """The goals as markdown bullets (a goal whose approaches did not run is left out)."""
    goals = measure(frame)
    lines = []
    if goals.picked_ap is not None and goals.reference_ap is not None:
        tie = ", tie broken by validation loss" if goals.tie else ""
        lines.append(
            f"- best network by validation AP: **{goals.picked}** (val AP {goals.picked_val_ap:.3f}{tie}), "
            f"test AP {goals.picked_ap:.3f} vs the strongest reference classifier {goals.reference} "
            f"{goals.reference_ap:.3f} (ratio {goals.picked_ap / goals.reference_ap:.2f})"
        )
    if goals.autoencoder_ap is not None and goals.detectors_median is not None:
        iforest = f"IsolationForest {goals.iforest_ap:.3f}, " if goals.iforest_ap is not None else ""
        lines.append(
            f"- autoencoder (selected on {goals.autoencoder_selected_on}) test AP "
            f"{goals.autoencoder_ap:.3f} vs {iforest}median of the classic detectors "
            f"{goals.detectors_median:.3f} "
            f"(ratio {goals.autoencoder_ap / goals.detectors_median:.2f})"
        )
    return lines
