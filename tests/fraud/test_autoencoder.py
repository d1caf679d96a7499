"""The study's autoencoder: narrower than its input, its own optimizer settings, selected on
normal validation rows without fraud labels unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.fraud.network_approaches import autoencoder_jobs, autoencoder_widths, normal_error_scale
from trainer.fraud.study import load_study_data, split_config
from trainer.fraud.study_data import StudyData

from .conftest import study_overrides

AUTO = {"_target_": "trainer.models.Autoencoder", "hidden_sizes": "auto", "code_size": "auto"}


@pytest.mark.parametrize("width", [2, 3, 5, 6, 9, 30, 150, 1000])
def test_auto_widths_are_always_narrower_than_the_input(width: int) -> None:
    node = autoencoder_widths(AUTO, width)
    assert 1 <= node["code_size"] < width
    assert all(node["code_size"] < h < width for h in node["hidden_sizes"])


def test_a_code_as_wide_as_the_input_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"code_size=8 is not narrower than the 6 input features.*auto"):
        autoencoder_widths({**AUTO, "code_size": 8}, 6)
    with pytest.raises(ConfigError, match=r"hidden_sizes=\[32, 4\] has a layer as wide as the 6 input"):
        autoencoder_widths({**AUTO, "code_size": 2, "hidden_sizes": [32, 4]}, 6)


def _data(tmp_path: Path, *extra: str) -> StudyData:
    composed = compose_config(study_overrides(tmp_path, *extra), config_name="fraud")
    cfg, settings, resample = split_config(composed.cfg)
    return load_study_data(cfg, settings, resample)


def test_by_default_it_is_selected_on_normal_validation_rows_without_labels(tmp_path: Path) -> None:
    data = _data(tmp_path, "fraud.autoencoder.ensemble=2")
    jobs, params = autoencoder_jobs(data, tmp_path)
    assert len(jobs) == 2 and [job.seed for job in jobs] == [42, 43]
    val_x, val_y = data.tensors["val"]
    for job in jobs:
        assert (job.monitor, job.mode) == ("val/loss", "min")
        assert torch.equal(job.val[0], val_x[val_y == 0])  # every fraud row left out
        assert int(job.train[1].sum()) == 0 and len(job.train[0]) == int(
            (data.tensors["train"][1] == 0).sum()
        )
        # Its own optimizer settings, not the classifier's weight decay of conf/fraud.yaml.
        assert float(job.cfg.optimizer.weight_decay) == 0.0
        assert float(data.cfg.optimizer.weight_decay) > 0
    assert params["selected_on"] == "normal_loss"


def test_selecting_on_validation_ap_uses_every_validation_row(tmp_path: Path) -> None:
    data = _data(tmp_path, "fraud.autoencoder.select_on=val_ap")
    (job,), params = autoencoder_jobs(data, tmp_path)
    assert (job.monitor, job.mode) == ("val/ap", "max")
    assert torch.equal(job.val[1], data.tensors["val"][1])
    assert params["selected_on"] == "val_ap"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("fraud.autoencoder.select_on=labels", r"select_on='labels'; choose normal_loss or val_ap"),
        ("fraud.autoencoder.ensemble=0", r"fraud.autoencoder.ensemble=0 must be 1 or more"),
        ("fraud.workers=0", r"fraud.workers=0 must be auto"),
        ("fraud.autoencoder.score=l1", r"fraud.autoencoder.score='l1'; choose scaled or mse"),
    ],
)
def test_bad_autoencoder_and_worker_settings_are_refused(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _data(tmp_path, override)


def test_scaled_errors_are_in_units_of_each_features_usual_error() -> None:
    # Feature 0 is always reconstructed loosely, feature 1 closely, feature 2 never wrong.
    normal = np.array([[4.0, 0.01, 0.0], [4.0, 0.03, 0.0]])
    scale = normal_error_scale(normal)
    assert np.allclose(scale[:2], [4.0, 0.02])
    assert scale[2] == pytest.approx(np.mean([4.0, 0.02, 0.0]) * 1e-2)  # floored, not zero
    odd_in_the_close_feature = np.array([4.0, 0.4, 0.0]) / scale
    odd_in_the_loose_feature = np.array([8.0, 0.02, 0.0]) / scale
    # Unscaled, the loose feature's doubling (8 vs 4.4 summed) would rank first; scaled, the
    # close feature's twenty-fold error does.
    assert odd_in_the_close_feature.mean() > odd_in_the_loose_feature.mean()


def test_the_study_scores_the_autoencoder_scaled_by_default(tmp_path: Path) -> None:
    from trainer.fraud.network_approaches import run_network
    from trainer.tracking.base import NullLogger

    data = _data(tmp_path, "fraud.approaches=[autoencoder]")
    result = run_network(data, "autoencoder", run_dir=tmp_path / "ae", logger=NullLogger())
    assert result.params["score"] == "scaled" and result.family == "anomaly"
    assert result.feature_errors is not None
    val_x, val_y = data.tensors["val"]
    # Each feature's scaled error averages 1 over the normal validation rows it was scaled on
    # (except features floored because the network never misses them).
    per_feature = result.feature_errors(val_x[val_y == 0]).mean(axis=0)
    assert np.median(per_feature) == pytest.approx(1.0, rel=1e-4)
    assert np.allclose(result.val_scores, result.feature_errors(val_x).mean(axis=1), rtol=1e-5)
