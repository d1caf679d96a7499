"""Nothing learned from validation or test rows: preprocessing, resampling and thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from trainer.config.compose import compose_config
from trainer.fraud.network_approaches import run_network
from trainer.fraud.networks import ArraysDataModule
from trainer.fraud.study import evaluate_approach, load_study_data, split_config
from trainer.fraud.study_data import StudyData
from trainer.tracking.base import NullLogger

from .conftest import study_overrides


@pytest.fixture
def data(tmp_path: Path) -> StudyData:
    composed = compose_config(study_overrides(tmp_path, "trainer.max_epochs=2"), config_name="fraud")
    cfg, settings, resample = split_config(composed.cfg)
    return load_study_data(cfg, settings, resample)


def test_the_scaler_saw_training_rows_only(data: StudyData) -> None:
    scaler = data.datamodule.preprocessor_.named_transformers_["num"].named_steps["scale"]
    numeric = data.datamodule.numeric_columns_
    train, everything = (
        data.frames["train"][numeric],
        np.vstack([data.frames[s][numeric] for s in data.frames]),
    )
    assert np.allclose(scaler.mean_, train.mean().to_numpy())
    assert not np.allclose(scaler.mean_, everything.mean(axis=0))
    assert scaler.n_samples_seen_ == len(train)


def test_no_synthetic_row_reaches_validation_or_test(
    data: StudyData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainer.fraud.member_fit as member_fit

    before = {split: (x.clone(), y.clone()) for split, (x, y) in data.tensors.items()}
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    real = member_fit.fit_network

    def spy(cfg: Any, module: Any, rows: ArraysDataModule, **kwargs: Any) -> Any:
        # The real fit; the spy only records the rows the Trainer gets.
        seen.update({"train": rows.splits["train"], "val": rows.splits["val"]})
        return real(cfg, module, rows, **kwargs)

    monkeypatch.setattr(member_fit, "fit_network", spy)
    run_network(data, "smote", run_dir=tmp_path / "smote", logger=NullLogger())
    train_x, train_y = seen["train"]
    assert len(train_x) > len(before["train"][0])  # synthetic fraud rows were added to training
    assert int(train_y.sum()) == int((train_y == 0).sum())  # balanced by SMOTE
    # Validation (early stopping, checkpoints) gets exactly the datamodule's rows; test rows
    # never reach a fit, they are only scored.
    assert torch.equal(seen["val"][0], before["val"][0]) and torch.equal(seen["val"][1], before["val"][1])
    for split in ("val", "test"):
        assert torch.equal(data.tensors[split][0], before[split][0])
        # No training row, real or synthetic, is also a validation/test row.
        rows = {tuple(r) for r in np.round(data.tensors[split][0].numpy(), 5)}
        assert not rows & {tuple(r) for r in np.round(train_x.numpy(), 5)}
    assert torch.equal(data.tensors["train"][0], before["train"][0])  # the datamodule's own rows untouched


def test_thresholds_come_from_validation_and_test_only_reports(data: StudyData, tmp_path: Path) -> None:
    result = run_network(data, "weighted", run_dir=tmp_path / "w", logger=NullLogger())
    row = evaluate_approach(data, result)
    shuffled = np.random.default_rng(0).permutation(result.test_scores)
    result.test_scores = shuffled  # any test scores: the threshold must not move
    assert evaluate_approach(data, result)["threshold"] == row["threshold"]
    result.val_scores = result.val_scores * 0.5
    assert evaluate_approach(data, result)["threshold"] != row["threshold"]
