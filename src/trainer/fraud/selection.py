"""Which network the study would deploy: the best validation AP, ties broken by validation loss.

Picked on validation rows only (the test rows only report). Two approaches whose validation APs
agree to :data:`AP_DECIMALS` decimals (as the report shows them) tie; list order must not decide
a tie, so the lower validation log loss does (better-calibrated probabilities), and the pick
says that a tie happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

#: Validation APs equal to this many decimals are a tie.
AP_DECIMALS = 4


@dataclass
class NetworkPick:
    """The chosen network and how it was chosen.

    Attributes:
        tied: the other approaches that had the same validation AP (empty: no tie).
    """

    name: str
    val_ap: float
    val_loss: float
    tied: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        """One line for the report."""
        line = f"Best network by validation AP: {self.name} (validation AP {self.val_ap:.4f})"
        if self.tied:
            others = ", ".join(self.tied)
            line += (
                f"; it tied with {others} at that AP and has the lowest validation loss ({self.val_loss:.4f})"
            )
        return line + "."


def best_network(table: pd.DataFrame, *, families: tuple[str, ...] = ("network",)) -> NetworkPick | None:
    """The row of ``families`` with the best validation AP, ties broken by validation loss.

    Args:
        table: the comparison, with ``approach``, ``family``, ``val_ap`` and ``val_loss`` columns.
        families: the rows to pick from (``("network", "reference")``: any classifier).

    Returns:
        None when no row of those families has a validation AP.
    """
    rows = table[table["family"].isin(families) & table["val_ap"].notna()]
    if rows.empty:
        return None
    top = rows["val_ap"].round(AP_DECIMALS).max()
    tied = rows[rows["val_ap"].round(AP_DECIMALS) == top]
    losses = tied["val_loss"].fillna(math.inf)
    chosen = tied.loc[losses.idxmin()]
    others = [str(name) for name in tied["approach"] if name != chosen["approach"]]
    return NetworkPick(
        name=str(chosen["approach"]),
        val_ap=float(chosen["val_ap"]),
        val_loss=float(chosen["val_loss"]),
        tied=others,
    )
