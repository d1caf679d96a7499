"""Figures that would say nothing are not drawn."""

from __future__ import annotations

from pathlib import Path

from trainer import plots


def test_a_constant_learning_rate_draws_no_figure_and_a_schedule_does(tmp_path: Path) -> None:
    assert plots.learning_rate([(1, 0.01), (2, 0.01), (3, 0.01)], tmp_path / "flat.png") is None
    assert not (tmp_path / "flat.png").exists()
    drawn = plots.learning_rate([(1, 0.01), (2, 0.005), (3, 0.0025)], tmp_path / "decay.png")
    assert drawn == tmp_path / "decay.png" and drawn.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
