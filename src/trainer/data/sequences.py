"""Forecasting data: a synthetic seasonal temperature series or the Jena climate CSV, as windows.

The series is split chronologically (train, then val, then test); each input column is
standardised with the training period's mean and std; windows are cut inside each split
(see :mod:`trainer.data.windows`). Targets stay in their own units (degrees), so ``mae`` reads
in degrees and compares directly with the naive "same as the last value" forecast.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from trainer.data.base import DataModule
from trainer.data.preprocessing import check_columns
from trainer.data.sources import CsvSource, TableSource
from trainer.data.windows import (
    WindowBatches,
    check_window,
    chronological_bounds,
    fit_standardizer,
    input_offsets,
    window_ends,
)
from trainer.errors import ConfigError, DataError
from trainer.tasks import RegressionObjective

log = logging.getLogger(__name__)


class TemperatureSynthetic(TableSource):
    """An hourly temperature series with a yearly and a daily cycle, weather and sensor noise.

    ``temperature = mean + yearly * sin(year phase) + daily * sin(day phase) + weather + noise``,
    where ``weather`` is an AR(1) process (persistent anomalies a model can learn to carry
    forward and let decay), and ``noise`` is white.

    Args:
        n_days: length of the series in days.
        samples_per_day: rows per day (24: hourly).
        mean, yearly_amplitude, daily_amplitude: the seasonal shape in degrees.
        weather_std, weather_persistence: stationary std and per-row autocorrelation of the anomaly.
        noise_std: white measurement noise in degrees.
        random_state: seed of the generator.
    """

    def __init__(
        self,
        *,
        n_days: int = 730,
        samples_per_day: int = 24,
        mean: float = 10.0,
        yearly_amplitude: float = 9.0,
        daily_amplitude: float = 4.0,
        weather_std: float = 3.0,
        weather_persistence: float = 0.95,
        noise_std: float = 0.3,
        random_state: int = 0,
    ) -> None:
        if n_days < 2 or samples_per_day < 1:
            raise ConfigError(f"data.source.n_days={n_days} must be 2 or more, samples_per_day 1 or more.")
        if not 0.0 <= weather_persistence < 1.0:
            raise ConfigError(f"data.source.weather_persistence={weather_persistence} must be in [0, 1).")
        self.n_days = n_days
        self.samples_per_day = samples_per_day
        self.mean = mean
        self.yearly_amplitude = yearly_amplitude
        self.daily_amplitude = daily_amplitude
        self.weather_std = weather_std
        self.weather_persistence = weather_persistence
        self.noise_std = noise_std
        self.random_state = random_state

    def load(self) -> pd.DataFrame:
        rng = np.random.default_rng(self.random_state)
        n = self.n_days * self.samples_per_day
        days = np.arange(n) / self.samples_per_day  # (n,) time in days
        yearly = self.yearly_amplitude * np.sin(2 * np.pi * (days - 110) / 365.25)  # warmest mid-July
        daily = self.daily_amplitude * np.sin(2 * np.pi * (days % 1 - 0.375))  # warmest mid-afternoon
        phi = self.weather_persistence
        shocks = rng.normal(0.0, self.weather_std * np.sqrt(1 - phi**2), size=n)
        weather = np.empty(n)
        weather[0] = rng.normal(0.0, self.weather_std)
        for i in range(1, n):  # AR(1): a loop of a few 10^4 steps, well under a second
            weather[i] = phi * weather[i - 1] + shocks[i]
        temperature = self.mean + yearly + daily + weather + rng.normal(0.0, self.noise_std, size=n)
        # A datetime column, not a number: the default inputs (numeric columns) leave it out.
        time = pd.date_range("2020-01-01", periods=n, freq=pd.Timedelta(days=1) / self.samples_per_day)
        return pd.DataFrame({"time": time, "temperature": temperature.astype(np.float32)})

    def describe(self) -> dict[str, Any]:
        return {
            "name": "temperature_synthetic",
            "source": f"synthetic://temperature?days={self.n_days}&seed={self.random_state}",
        }


class JenaClimateCsv(CsvSource):
    """The Jena climate CSV (``jena_climate_2009_2016.csv``): 14 readings every 10 minutes.

    Rows are taken in file order (the file is sorted by its ``Date Time`` column).
    """

    def describe(self) -> dict[str, Any]:
        return {"name": "jena_climate", "source": str(self.path.resolve())}


class SequenceDataModule(DataModule):
    """Windows of a series for forecasting one column ``horizon`` rows ahead.

    Args:
        source: the series as a table (rows in time order).
        target: the column to forecast, e.g. ``T (degC)``.
        features: input columns; ``None`` takes every numeric column (the target included).
        lookback: rows of history each window sees.
        horizon: how many rows after the last input row the target lies (1: the next row).
        step: take every ``step``-th row of the lookback (6 turns 10-minute rows into hourly).
        stride: start a window every ``stride`` rows (thins near-duplicate windows).
        val_fraction, test_fraction: shares of the series (by time) for validation and test.
        batch_size: training batch size.
        eval_batch_size: batch size for validation, test and prediction.
        drop_last: drop the last partial training batch.
        seed: seed of the batch order.
    """

    task = RegressionObjective.name

    def __init__(
        self,
        *,
        source: TableSource,
        target: str = "temperature",
        features: Sequence[str] | None = None,
        lookback: int = 48,
        horizon: int = 24,
        step: int = 2,
        stride: int = 1,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = 128,
        eval_batch_size: int = 1024,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        check_window(lookback=lookback, horizon=horizon, step=step, stride=stride)
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError(
                f"data.batch_size={batch_size} and data.eval_batch_size={eval_batch_size} must be 1 or more."
            )
        self.source = source
        self.target = target
        self.features = None if features is None else list(features)
        self.lookback, self.horizon, self.step, self.stride = lookback, horizon, step, stride
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.drop_last = drop_last
        self.seed = seed
        self.classes_: list[Any] = []
        self._ready = False

    def setup(self) -> None:
        """Load, split by time, standardise with the training period and index the windows."""
        if self._ready:
            return
        frame = self.source.load()
        where = self.source.describe()["source"]
        check_columns(frame, [self.target], key="data.target", where=where)
        if self.features is not None:
            check_columns(frame, self.features, key="data.features", where=where)
        columns = self.features or [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        values = frame[list(dict.fromkeys([*columns, self.target]))].apply(pd.to_numeric, errors="coerce")
        if values.isna().any().any():
            bad = values.columns[values.isna().any()].tolist()
            raise DataError(
                f"The columns {bad} of {where} have missing or non-numeric values; fill them first."
            )
        inputs = values[columns].to_numpy(np.float32)  # (rows, features)
        target = values[self.target].to_numpy(np.float32)  # (rows,)
        self.bounds_ = chronological_bounds(
            len(frame), val_fraction=self.val_fraction, test_fraction=self.test_fraction
        )
        # Normalisation statistics from the training period only: later periods never inform it.
        self.mean_, self.std_ = fit_standardizer(inputs[self.bounds_["train"]], columns=columns)
        self.columns_ = columns
        self.offsets_ = input_offsets(lookback=self.lookback, step=self.step)
        self._frame = frame
        self._splits: dict[str, WindowBatches] = {}
        for split, rows in self.bounds_.items():
            ends = window_ends(rows.stop - rows.start, lookback=self.lookback, horizon=self.horizon)
            if split == "train":
                ends = ends[:: self.stride]
            if split == "train" and len(ends) == 0:
                raise DataError(
                    f"The training period has {rows.stop - rows.start} rows, too few for a window of "
                    f"lookback {self.lookback} + horizon {self.horizon}; lower them or use a longer series."
                )
            self._splits[split] = WindowBatches(
                torch.tensor((inputs[rows] - self.mean_) / self.std_),  # copies: pandas' arrays are read-only
                torch.tensor(target[rows]),
                torch.as_tensor(ends),
                torch.as_tensor(self.offsets_),
                horizon=self.horizon,
                batch_size=self.batch_size if split == "train" else self.eval_batch_size,
                shuffle=split == "train",
                seed=self.seed,
                drop_last=split == "train" and self.drop_last and len(ends) > self.batch_size,
            )
        self._ready = True
        log.info("Series %s: windows %s, input shape %s.", where, self.split_sizes(), self.input_shape)

    # ------------------------------------------------------------------ protocol
    @property
    def input_shape(self) -> tuple[int, int]:
        """``(steps, features)``: the timesteps a window holds and the columns of each."""
        self.setup()
        return len(self.offsets_), len(self.columns_)

    @property
    def num_features(self) -> int:
        steps, features = self.input_shape
        return steps * features

    @property
    def num_classes(self) -> int:
        return 0

    def windows(self, split: str) -> WindowBatches:
        self.setup()
        return self._splits[split]

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Every window of a split, materialised: ``(windows, steps, features)`` and ``(windows,)``."""
        loader = self.windows(split)
        return loader.gather(loader.ends)

    def labels(self, split: str) -> torch.Tensor:
        loader = self.windows(split)
        return loader.targets[loader.ends - 1 + self.horizon]

    def last_values(self, split: str) -> torch.Tensor:
        """The target's value at each window's last input row: the naive forecast."""
        loader = self.windows(split)
        return loader.targets[loader.ends - 1]

    def reference_metrics(self) -> dict[str, float]:
        """The naive "same as the last value" forecast's MAE on the test windows, in target units."""
        if len(self.windows("test").ends) == 0:
            return {}
        return {"naive_mae": float((self.last_values("test") - self.labels("test")).abs().mean())}

    def _loader(self, split: str) -> WindowBatches | None:
        loader = self.windows(split)
        return loader if len(loader.ends) else None

    def train_dataloader(self) -> WindowBatches:
        return self.windows("train")

    def val_dataloader(self) -> WindowBatches | None:
        return self._loader("val")

    def test_dataloader(self) -> WindowBatches | None:
        return self._loader("test")

    def predict_dataloader(self) -> WindowBatches | None:
        return self._loader("test")

    def split_sizes(self) -> dict[str, int]:
        return {f"windows_{split}": len(loader.ends) for split, loader in self._splits.items()}

    def datasets(self) -> dict[str, pd.DataFrame]:
        return {split: self._frame.iloc[rows] for split, rows in self.bounds_.items()}

    def describe(self) -> dict[str, Any]:
        self.setup()
        info = dict(self.source.describe())
        info.update(
            {
                "target": self.target,
                "task": self.task,
                "features": ",".join(self.columns_),
                "lookback": self.lookback,
                "horizon": self.horizon,
                "step": self.step,
                **self.split_sizes(),
            }
        )
        return info
