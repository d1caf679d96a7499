"""The network the study picks: best validation AP, a tie broken by validation loss, not list order."""

from __future__ import annotations

import math

import pandas as pd

from trainer.fraud.selection import best_network


def _table(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["approach", "family", "val_ap", "val_loss"])


def test_the_best_validation_ap_wins_without_a_tie() -> None:
    pick = best_network(
        _table(
            [
                ("plain", "network", 0.20, 0.30),
                ("smote", "network", 0.25, 0.90),
                ("hgb", "reference", 0.4, 0.1),
            ]
        )
    )
    assert pick is not None and (pick.name, pick.tied) == ("smote", [])
    assert pick.sentence() == "Best network by validation AP: smote (validation AP 0.2500)."


def test_a_tie_is_broken_by_validation_loss_whatever_the_order() -> None:
    rows = [
        ("plain", "network", 0.31231, 0.40),
        ("weighted", "network", 0.31234, 0.20),  # same AP to 4 decimals, lower loss
        ("smote", "network", 0.1, 0.1),
        ("autoencoder", "anomaly", 0.9, math.nan),
    ]
    for order in (rows, rows[::-1]):
        pick = best_network(_table(order))
        assert pick is not None and pick.name == "weighted" and pick.tied == ["plain"]
        assert "tied with plain at that AP and has the lowest validation loss (0.2000)" in pick.sentence()


def test_classifiers_of_any_family_and_no_rows() -> None:
    table = _table([("plain", "network", 0.2, 0.3), ("hgb", "reference", 0.4, 0.1)])
    pick = best_network(table, families=("network", "reference"))
    assert pick is not None and pick.name == "hgb"
    assert best_network(_table([("iforest", "anomaly", 0.5, math.nan)])) is None


def test_the_report_and_the_parent_page_say_that_a_tie_was_broken() -> None:
    from trainer.fraud.parent_description import study_description
    from trainer.fraud.report import verdict_lines

    table = _table(
        [
            ("plain", "network", 0.31231, 0.40),
            ("weighted", "network", 0.31234, 0.20),
            ("hgb", "reference", 0.2, 0.1),
        ]
    ).assign(ap=[0.30, 0.28, 0.25])
    lines = verdict_lines(table)
    assert lines[0].startswith(
        "Best network by validation AP: weighted (validation AP 0.3123); it tied with plain"
    )
    assert "Strongest classifier reference (of hgb): hgb, test AP 0.25" in lines
    page = study_description(table, child_run_ids={}, skipped={}, address=lambda _: None)
    assert "**weighted** (validation AP 0.3123, test AP 0.28; it tied with plain and has the lower" in page
