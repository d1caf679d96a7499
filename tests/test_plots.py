"""Figures that would say nothing are not drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainer import plots


def test_a_constant_learning_rate_draws_no_figure_and_a_schedule_does(tmp_path: Path) -> None:
    assert plots.learning_rate([(1, 0.01), (2, 0.01), (3, 0.01)], tmp_path / "flat.png") is None
    assert not (tmp_path / "flat.png").exists()
    drawn = plots.learning_rate([(1, 0.01), (2, 0.005), (3, 0.0025)], tmp_path / "decay.png")
    assert drawn == tmp_path / "decay.png" and drawn.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_curves_draw_with_one_epoch_and_with_a_non_finite_validation_loss(tmp_path: Path) -> None:
    one = plots.learning_curves([{"epoch": 1, "train/loss": 0.7, "val/loss": 0.6}], tmp_path / "one.png")
    assert one is not None and one.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [
        {"epoch": 1, "train/loss": 0.9, "val/loss": float("nan")},
        {"epoch": 2, "train/loss": 0.5, "val/loss": 0.4},
        {"epoch": 3, "train/loss": 0.3, "val/loss": 0.45},
    ]
    drawn = plots.learning_curves(rows, tmp_path / "curves.png")
    assert drawn is not None and drawn.stat().st_size > 5000
    assert plots.learning_curves([{"epoch": 1}], tmp_path / "none.png") is None


def test_a_binary_confusion_matrix_is_large_enough_to_read(tmp_path: Path) -> None:
    import numpy as np

    path = plots.confusion_matrix(np.array([[50, 3], [7, 12]]), ["no fraud", "fraud"], tmp_path / "cm.png")
    header = path.read_bytes()[:24]
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert width >= 400 and height >= 380, (width, height)  # about 240 x 220 before


def test_roc_and_pr_mark_the_operating_point_with_the_legend_off_the_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    kept: list[Any] = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: (kept.append(fig), save(fig, path))[1])
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(np.int64)
    scores = np.clip(0.35 * y + rng.random(300) * 0.7, 0, 1)
    roc, pr = plots.roc_and_pr(y, scores, tmp_path, threshold=0.6)
    assert roc.name == "roc_curve.png" and pr.name == "pr_curve.png"
    flagged = scores >= 0.6
    precision, recall = (flagged & (y == 1)).sum() / flagged.sum(), (flagged & (y == 1)).sum() / y.sum()
    for fig in kept:
        ax = fig.axes[0]
        legend = ax.get_legend()
        fig.canvas.draw()
        below = legend.get_window_extent().y1 <= ax.get_window_extent().y0  # under the axes, off every curve
        assert below, "the legend sits on the plot"
        assert any(t.get_text().startswith("threshold 0.6: ") for t in legend.get_texts())
    pr_labels = [t.get_text() for t in kept[1].axes[0].get_legend().get_texts()]
    assert f"threshold 0.6: precision {precision:.2f}, recall {recall:.2f}" in pr_labels
