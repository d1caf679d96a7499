"""Every sampler builds from its conf file and resamples; the bad inputs get one clear message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from trainer.config.compose import conf_dir
from trainer.data.feature_layout import FeatureLayout
from trainer.data.resample import SAMPLERS, Resampler
from trainer.errors import ConfigError, DataError

from .conftest import imbalanced

RESAMPLE_FILES = sorted((conf_dir() / "resample").glob("*.yaml"))


def test_there_is_one_conf_file_per_sampler() -> None:
    assert {p.stem for p in RESAMPLE_FILES} == set(SAMPLERS)


@pytest.mark.parametrize("path", RESAMPLE_FILES, ids=[p.stem for p in RESAMPLE_FILES])
def test_each_sampler_builds_from_its_conf_file_and_resamples(
    path: Path, mixed_layout: FeatureLayout
) -> None:
    options = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(options, dict) and options["name"] == path.stem
    x, y = _mixed_rows(mixed_layout)
    resampler = Resampler(**{str(k): v for k, v in options.items()}, random_state=0)
    x_new, y_new = resampler.fit_resample(x, y, layout=mixed_layout)
    assert x_new.dtype == np.float32 and x_new.shape[1] == x.shape[1] and len(x_new) == len(y_new)
    before, after = resampler.counts_before_, resampler.counts_after_
    if path.stem != "none":
        # Every sampler narrows the gap between the classes.
        assert after[1] / after[0] > before[1] / before[0]


def test_smotenc_keeps_each_one_hot_block_a_single_category(mixed_layout: FeatureLayout) -> None:
    x, y = _mixed_rows(mixed_layout)
    x_new, _ = Resampler(name="smotenc", k_neighbors=3).fit_resample(x, y, layout=mixed_layout)
    assert len(x_new) > len(x)
    for positions in mixed_layout.groups.values():
        block = x_new[:, positions]
        assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(axis=1) == 1).all()
    # The original rows come back unchanged (imbalanced-learn appends the synthetic ones).
    assert np.allclose(x_new[: len(x)], x)


def test_plain_smote_on_one_hot_columns_warns_and_suggests_smotenc(
    mixed_layout: FeatureLayout, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = _mixed_rows(mixed_layout)
    Resampler(name="smote", k_neighbors=3).fit_resample(x, y, layout=mixed_layout)
    assert "resample=smotenc keeps categories whole" in caplog.text


def test_too_few_minority_rows_for_the_neighbours_names_the_count_and_the_fixes() -> None:
    x, y = imbalanced(100, positives=4)
    with pytest.raises(DataError) as info:
        Resampler(name="smote", k_neighbors=5).fit_resample(x, y)
    message = str(info.value)
    assert "k_neighbors=5 needs at least 6 minority rows" in message and "it has 4" in message
    assert "resample.k_neighbors (at most 3)" in message and "resample=random_over" in message
    # The fix works.
    Resampler(name="smote", k_neighbors=3).fit_resample(x, y)
    Resampler(name="random_over").fit_resample(x, y)


def test_unknown_sampler_lists_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"resample='smoet' is not a known sampler; choose one of none, smote"
    ):
        Resampler(name="smoet")
    with pytest.raises(ConfigError, match="Did you mean 'smote'"):
        Resampler(name="smoet")


def test_single_class_and_missing_values_are_refused() -> None:
    x, _ = imbalanced(50)
    with pytest.raises(DataError, match="needs both classes in the training split"):
        Resampler(name="smote").fit_resample(x, np.zeros(50))
    x[3, 1] = np.nan
    with pytest.raises(DataError, match="missing or infinite feature values"):
        Resampler(name="random_under").fit_resample(x, imbalanced(50)[1])


def test_smotenc_without_categorical_columns_suggests_smote() -> None:
    x, y = imbalanced(100)
    layout = FeatureLayout(raw_columns=[f"x{i}" for i in range(4)], numeric=[0, 1, 2, 3], groups={})
    with pytest.raises(DataError, match="has none after preprocessing; use resample=smote"):
        Resampler(name="smotenc").fit_resample(x, y, layout=layout)


def test_a_bad_sampling_strategy_gets_a_message_with_the_key() -> None:
    x, y = imbalanced(100, positives=20)
    with pytest.raises(DataError, match=r"sampling_strategy=0\.01.*resample.sampling_strategy"):
        Resampler(name="random_over", sampling_strategy=0.01).fit_resample(x, y)


def test_settings_are_checked_when_the_resampler_is_made_before_any_row() -> None:
    with pytest.raises(
        ConfigError, match=r"resample.sampling_strategy='half' is not known; choose one of auto"
    ):
        Resampler(name="smote", sampling_strategy="half")
    with pytest.raises(
        ConfigError, match=r"resample.sampling_strategy=1.5 must be a minority/majority ratio"
    ):
        Resampler(name="smote", sampling_strategy=1.5)
    with pytest.raises(ConfigError, match=r"resample.m_neighbors=0 must be 1 or more"):
        Resampler(name="svm_smote", m_neighbors=0)
    with pytest.raises(ConfigError, match=r"resample.k_nieghbors is not a resample setting; valid: name, "):
        Resampler.from_options({"name": "smote", "k_nieghbors": 3}, random_state=0)


def test_adasyn_on_rows_with_no_majority_neighbour_is_a_data_error() -> None:
    x, y = imbalanced(100, positives=20)
    x[:20] += 100.0  # every minority row's neighbours are minority rows: ADASYN has nothing to weigh
    with pytest.raises(
        DataError, match=r"resample=adasyn cannot resample this training split: Not any neigbours"
    ):
        Resampler(name="adasyn").fit_resample(x, y)


# ---------------------------------------------------------------------- helpers
@pytest.fixture
def mixed_layout() -> FeatureLayout:
    """2 numeric columns, then a 3-category and a 2-category one-hot block."""
    return FeatureLayout(
        raw_columns=["a", "b", "colour", "colour", "colour", "size", "size"],
        numeric=[0, 1],
        groups={"colour": [2, 3, 4], "size": [5, 6]},
    )


def _mixed_rows(layout: FeatureLayout, n: int = 200, positives: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    folded = np.column_stack(
        [rng.normal(size=(n, 2)), rng.integers(0, 3, size=n), rng.integers(0, 2, size=n)]
    ).astype(np.float64)
    y = np.zeros(n)
    y[:positives] = 1
    folded[:positives, :2] += 2.0
    return layout.unfold(folded).astype(np.float64), y
