"""Windows of a series: no input later than its target, splits by time, train-only statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trainer.data import JenaClimateCsv, SequenceDataModule, TemperatureSynthetic
from trainer.data.sources import TableSource
from trainer.data.windows import input_offsets, window_ends
from trainer.errors import ConfigError, DataError

from .helpers_files import write_tiny_jena


class RowNumbers(TableSource):
    """A series whose value is its row number: a window's inputs then say which rows it read."""

    def __init__(self, rows: int = 200) -> None:
        self.rows = rows

    def load(self) -> pd.DataFrame:
        return pd.DataFrame({"row": np.arange(self.rows, dtype=np.float32)})

    def describe(self) -> dict[str, str]:
        return {"name": "rows", "source": "test://rows"}


def _module(**options: int) -> SequenceDataModule:
    settings = {"lookback": 12, "horizon": 5, "step": 3, **options}
    dm = SequenceDataModule(source=RowNumbers(), target="row", batch_size=16, **settings)
    dm.setup()
    return dm


def test_offsets_end_at_the_last_row_and_step_back() -> None:
    assert input_offsets(lookback=12, step=3).tolist() == [-10, -7, -4, -1]
    assert window_ends(20, lookback=4, horizon=3).tolist() == list(range(4, 18))


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_no_input_lies_at_or_after_the_target_nor_outside_its_split(split: str) -> None:
    dm = _module()
    x, y = dm.tensors(split)
    rows = x[..., 0] * torch.tensor(dm.std_[0]) + torch.tensor(dm.mean_[0])  # undo the scaling
    bounds = dm.bounds_[split]
    rows, targets = rows.round(), y  # values are absolute row numbers
    assert torch.all(rows.max(dim=1).values == targets - dm.horizon)  # the last input is t - 1
    assert torch.all(rows < targets[:, None]) and rows.min() >= bounds.start
    assert targets.max() < bounds.stop
    assert torch.equal(dm.last_values(split) + dm.horizon, y)


def test_splits_follow_time_and_statistics_come_from_train_only() -> None:
    dm = _module()
    assert dm.bounds_["train"].stop == dm.bounds_["val"].start
    assert dm.bounds_["val"].stop == dm.bounds_["test"].start == 170
    train_rows = np.arange(dm.bounds_["train"].stop)
    assert dm.mean_[0] == pytest.approx(train_rows.mean()) and dm.std_[0] == pytest.approx(train_rows.std())


def test_the_naive_forecast_and_its_mae() -> None:
    dm = _module()
    assert dm.reference_metrics() == {"naive_mae": pytest.approx(5.0)}  # rows grow by 1 each step


def test_the_loader_gathers_the_same_windows_as_tensors() -> None:
    dm = _module()
    loader = dm.test_dataloader()
    assert loader is not None
    x, y = map(torch.cat, zip(*loader, strict=False))
    expected_x, expected_y = dm.tensors("test")
    assert torch.equal(x, expected_x) and torch.equal(y, expected_y)
    assert dm.input_shape == (4, 1) and x.shape[1:] == (4, 1)


def test_bad_windows_stop_with_the_key() -> None:
    with pytest.raises(ConfigError, match=r"data\.step"):
        SequenceDataModule(source=RowNumbers(), target="row", lookback=2, step=3)
    with pytest.raises(DataError, match="too few"):
        _module(lookback=150)


def test_synthetic_series_has_both_cycles() -> None:
    frame = TemperatureSynthetic(n_days=60, weather_std=0.0, noise_std=0.0).load()
    hourly = frame["temperature"].to_numpy()[:48]
    assert list(frame.columns) == ["time", "temperature"] and len(frame) == 60 * 24
    assert 6 < hourly.max() - hourly.min() < 9  # the daily swing of 2 x 4 degrees


def test_jena_csv_reads_target_and_numeric_inputs(tmp_path: Path) -> None:
    path = write_tiny_jena(tmp_path / "jena.csv")
    dm = SequenceDataModule(
        source=JenaClimateCsv(path=str(path)), target="T (degC)", lookback=36, horizon=6, step=6
    )
    dm.setup()
    assert dm.columns_ == ["p (mbar)", "T (degC)", "rh (%)"]  # Date Time is text: left out
    assert dm.input_shape == (6, 3)
    with pytest.raises(DataError, match=r"T \(degF\)"):
        SequenceDataModule(source=JenaClimateCsv(path=str(path)), target="T (degF)").setup()
