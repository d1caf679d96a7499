"""Figures that would say nothing are not drawn."""

from __future__ import annotations

from pathlib import Path

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
