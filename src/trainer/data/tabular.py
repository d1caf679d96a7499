"""TabularDataModule: load a table, split it, fit preprocessing on train, serve device batches."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer

from trainer.data import prepared_cache
from trainer.data.base import DataModule
from trainer.data.batches import TensorBatches
from trainer.data.feature_layout import FeatureLayout
from trainer.data.preprocessing import (
    build_preprocessor,
    check_columns,
    coerce_numeric,
    leave_out_empty_columns,
    split_column_kinds,
)
from trainer.data.raw_table import RawTable
from trainer.data.resample import Resampler
from trainer.data.sources import TableSource
from trainer.data.splits import SPLITS, SplitIndices, check_row_count, random_split, time_split
from trainer.errors import ConfigError, DataError
from trainer.tasks import AUTO_TASK, OBJECTIVES, infer_task, objective_class

log = logging.getLogger(__name__)


class TabularDataModule(DataModule):
    """A table split three ways, preprocessed with statistics of the training rows only.

    After :meth:`setup`, it exposes what later stages need: ``splits_`` (raw rows per split),
    ``preprocessor_`` (fitted ColumnTransformer), ``feature_names_``, ``classes_`` and the
    tensors behind each loader.

    Args:
        source: where the table comes from.
        target: name of the target column.
        task: ``auto``, ``binary``, ``multiclass``, ``regression`` or ``reconstruction``.
        drop: columns to leave out (identifiers, leaks).
        categorical: columns to one-hot encode; ``None`` detects text/category columns.
        split: ``stratified``, ``random`` or ``time``.
        time_column: the column to order by for ``split=time``; a time split leaves it out of the
            features (its later values never occur in training).
        val_start, test_start: for ``split=time``, the first time value of val and test.
        val_fraction, test_fraction: sizes of the held-out splits.
        batch_size: training batch size.
        eval_batch_size: batch size for validation, test and prediction.
        drop_last: drop the last partial training batch.
        train_label: keep only the training rows of this class (``0`` trains an autoencoder
            on normal rows); validation and test keep every row. ``None`` keeps all.
        seed: seed of the split and of the batch order.
    """

    def __init__(
        self,
        *,
        source: TableSource,
        target: str = "target",
        task: str = "auto",
        drop: Sequence[str] = (),
        categorical: Sequence[str] | None = None,
        split: str = "stratified",
        time_column: str | None = None,
        val_start: Any = None,
        test_start: Any = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        drop_last: bool = False,
        train_label: Any = None,
        seed: int = 0,
    ) -> None:
        if task != AUTO_TASK and task not in OBJECTIVES:
            known = ", ".join([AUTO_TASK, *OBJECTIVES])
            raise ConfigError(f"data.task={task!r} is not known; choose one of {known}.")
        if split not in SPLITS:
            raise ConfigError(f"data.split={split!r} is not known; choose one of {', '.join(SPLITS)}.")
        if split == "time" and not time_column:
            raise ConfigError("data.split=time needs data.time_column=<column to order rows by>.")
        if batch_size < 1 or eval_batch_size < 1:
            raise ConfigError(
                f"data.batch_size={batch_size} and data.eval_batch_size={eval_batch_size} must be 1 or more."
            )
        self.source = source
        self.target = target
        self.task = task
        self.drop = list(drop)
        self.categorical = None if categorical is None else list(categorical)
        self.split = split
        self.time_column = time_column
        self.val_start = val_start
        self.test_start = test_start
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.drop_last = drop_last
        self.train_label = train_label
        self.seed = seed
        self._ready = False

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Load, check, split and preprocess (idempotent; the same preparation made last in this
        process is reused: ``prepared_cache``)."""
        if self._ready:
            return
        key = self._preparation_key()
        kept = prepared_cache.recall(key)
        if kept is not None:
            self.__dict__.update(kept)
            self._log_rows()
            return
        before = dict(vars(self))
        self._prepare()
        # What _prepare set or changed (the task found, the splits, the fitted preprocessing...).
        changed = {k: v for k, v in vars(self).items() if k not in before or before[k] is not v}
        prepared_cache.keep(key, changed)

    def _preparation_key(self) -> tuple[Any, ...]:
        """Every setting the prepared rows depend on (batching is not one of them)."""
        settings = (
            self.target,
            self.task,
            tuple(self.drop),
            None if self.categorical is None else tuple(self.categorical),
            self.split,
            self.time_column,
            repr(self.val_start),
            repr(self.test_start),
            self.val_fraction,
            self.test_fraction,
            repr(self.train_label),
            self.seed,
        )
        return (type(self).__name__, self.source.fingerprint(), settings)

    def _prepare(self) -> None:
        frame = self.source.load()
        where = self.source.describe()["source"]
        check_columns(frame, [self.target], key="data.target", where=where)
        check_columns(frame, self.drop, key="data.drop", where=where)
        if self.time_column:
            check_columns(frame, [self.time_column], key="data.time_column", where=where)
        target = frame[self.target]
        if target.isna().any():
            raise DataError(
                f"data.target={self.target!r} has {int(target.isna().sum())} missing values in {where}; "
                "remove those rows or fill them before training."
            )
        feature_frame = frame.drop(columns=[self.target, *self.drop, *self._time_feature_to_leave_out()])
        if feature_frame.shape[1] == 0:
            time_note = " and data.time_column (a time split keeps it out)" if self.split == "time" else ""
            raise DataError(
                f"No feature columns are left in {where} after removing the target, data.drop{time_note}."
            )
        # Before the labels: a one-row table would otherwise be reported as "a single class".
        check_row_count(
            len(frame), val_fraction=self.val_fraction, test_fraction=self.test_fraction, where=where
        )
        self.task = infer_task(target) if self.task == AUTO_TASK else self.task
        labels = self._encode_target(target, where)

        numeric, categorical = split_column_kinds(feature_frame, categorical=self.categorical, where=where)
        feature_frame = coerce_numeric(feature_frame, numeric, categorical)

        self.indices_ = self._split(frame, labels)
        self.splits_ = {
            name: frame.iloc[getattr(self.indices_, name)].reset_index(drop=True)
            for name in ("train", "val", "test")
        }
        numeric, categorical = leave_out_empty_columns(
            feature_frame.iloc[self.indices_.train], numeric, categorical, where=where
        )
        feature_frame = feature_frame[[c for c in feature_frame.columns if c in {*numeric, *categorical}]]
        train_rows = feature_frame.iloc[self.indices_.train]
        self.preprocessor_: ColumnTransformer = build_preprocessor(numeric, categorical)
        self.preprocessor_.fit(train_rows)  # statistics of the training rows only
        self.numeric_columns_, self.categorical_columns_ = numeric, categorical
        self.feature_names_ = [str(n) for n in self.preprocessor_.get_feature_names_out()]
        self.raw_feature_columns_ = [str(c) for c in feature_frame.columns]

        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for name in ("train", "val", "test"):
            rows = getattr(self.indices_, name)
            x = self.transform(feature_frame.iloc[rows])
            y = torch.as_tensor(labels[rows])
            self._tensors[name] = (x, y)
        if self.train_label is not None:
            self._keep_training_class(self.train_label, where)
        self._ready = True
        self._log_rows()

    def _log_rows(self) -> None:
        counts = {name: len(self._tensors[name][1]) for name in ("train", "val", "test")}
        where = self.source.describe()["source"]
        log.info("Data %s: %s rows, %d features, task %s.", where, counts, self.num_features, self.task)

    def _time_feature_to_leave_out(self) -> list[str]:
        # A time split trains on the earliest period and tests on the latest, so the time column
        # holds only training-period values in training and only later ones at test: a network
        # then scores every test row through weights that never saw such an input (with a
        # single training year, the column is constant and its weights are never trained).
        # What changes over time enters through the other columns.
        if self.split != "time" or self.time_column in self.drop or self.time_column == self.target:
            return []
        log.info(
            "data.split=time: data.time_column=%r orders the rows and is not a feature.", self.time_column
        )
        return [str(self.time_column)]

    def _encode_target(self, target: pd.Series, where: str) -> np.ndarray:
        # The task's objective decides how its target column becomes labels.
        labels, self.classes_ = objective_class(self.task).encode_labels(
            target, column=self.target, where=where
        )
        return labels

    def _split(self, frame: pd.DataFrame, labels: np.ndarray) -> SplitIndices:
        if self.split == "time":
            assert self.time_column is not None
            return time_split(
                frame[self.time_column],
                val_fraction=self.val_fraction,
                test_fraction=self.test_fraction,
                val_start=self.val_start,
                test_start=self.test_start,
            )
        stratify = self.split == "stratified" and objective_class(self.task).stratify
        return random_split(
            labels,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            stratify=stratify,
            seed=self.seed,
        )

    def _keep_training_class(self, value: Any, where: str) -> None:
        matches = [code for code, label in enumerate(self.classes_) if str(label) == str(value)]
        if not matches:
            raise ConfigError(
                f"data.train_label={value!r} is not a class of data.target={self.target!r} in {where}; "
                f"its classes are {', '.join(map(str, self.classes_))}."
            )
        x, y = self._tensors["train"]
        keep = y.reshape(len(y), -1)[:, 0] == matches[0]
        if not bool(keep.any()):
            raise DataError(f"data.train_label={value!r}: the training split has no row of that class.")
        self._tensors["train"] = (x[keep], y[keep])

    # ------------------------------------------------------------------ public API
    def resample_training_rows(self, resampler: Resampler) -> None:
        """Replace the training tensors with ``resampler``'s output; validation and test stay as they are.

        Runs after the preprocessing was fit on the real training rows, as in an imbalanced-learn
        ``Pipeline``: synthetic rows never reach validation or test, nor the scaler's statistics.
        ``splits_`` keeps the raw rows as loaded.
        """
        x, y = self.tensors("train")
        layout = FeatureLayout.from_preprocessor(self.preprocessor_)
        x_new, y_new = resampler.fit_resample(x.numpy(), y.numpy(), layout=layout)
        self._tensors["train"] = (torch.as_tensor(x_new, dtype=x.dtype), torch.as_tensor(y_new).to(y.dtype))
        log.info("Resampled the training rows with %s: %d -> %d rows.", resampler.name, len(y), len(y_new))

    def transform(self, rows: pd.DataFrame) -> torch.Tensor:
        """Raw feature rows -> float32 tensor with the fitted preprocessing."""
        values = self.preprocessor_.transform(rows)
        return torch.as_tensor(np.asarray(values, dtype=np.float32))

    @property
    def num_features(self) -> int:
        return len(self.feature_names_)

    @property
    def num_classes(self) -> int:
        return len(self.classes_)

    @property
    def categorical_cardinalities(self) -> list[int]:
        """Width of each categorical column's one-hot block, in order; the blocks follow the numbers.

        Read from the preprocessor fitted on the training rows, so an embedding model
        (``model=tabular_embedding``) can give each block its own embedding.
        """
        self.setup()
        layout = FeatureLayout.from_preprocessor(self.preprocessor_)
        return [len(positions) for positions in layout.groups.values()]

    def raw_table(self) -> RawTable:
        """The rows as loaded per split, their feature columns and the fitted preprocessing."""
        self.setup()
        return RawTable(
            target=self.target,
            columns=self.raw_feature_columns_,
            numeric=self.numeric_columns_,
            categorical=self.categorical_columns_,
            preprocessor=self.preprocessor_,
            splits=self.splits_,
        )

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features, labels)`` of a split, on the CPU."""
        self.setup()
        return self._tensors[split]

    # The DataModule protocol (trainer.data.base) beyond what the table already had.
    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.num_features,)

    def labels(self, split: str) -> torch.Tensor:
        return self.tensors(split)[1]

    def datasets(self) -> dict[str, pd.DataFrame]:
        """The raw rows of each split, as trackers record them."""
        self.setup()
        return self.splits_

    def reference_metrics(self) -> dict[str, float]:
        return {}

    def _batches(self, split: str, *, train: bool) -> TensorBatches | None:
        x, y = self.tensors(split)
        if len(x) == 0:
            return None
        if train:
            return TensorBatches(
                x,
                y,
                batch_size=self.batch_size,
                shuffle=True,
                seed=self.seed,
                drop_last=self.drop_last and len(x) > self.batch_size,
            )
        return TensorBatches(x, y, batch_size=self.eval_batch_size)

    def train_dataloader(self) -> TensorBatches:
        loader = self._batches("train", train=True)
        if loader is None:
            raise DataError("The training split is empty; lower data.val_fraction and data.test_fraction.")
        return loader

    def val_dataloader(self) -> TensorBatches | None:
        return self._batches("val", train=False)

    def test_dataloader(self) -> TensorBatches | None:
        return self._batches("test", train=False)

    def predict_dataloader(self) -> TensorBatches | None:
        return self._batches("test", train=False)

    def describe(self) -> dict[str, Any]:
        """Name, source and row counts per split (for trackers)."""
        self.setup()
        info = dict(self.source.describe())
        info.update({f"rows_{name}": len(getattr(self.indices_, name)) for name in ("train", "val", "test")})
        info.update({"task": self.task, "num_features": self.num_features, "target": self.target})
        return info
