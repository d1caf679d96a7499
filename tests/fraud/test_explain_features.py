"""Explanations in raw column names, the preprocessor layout, the claims generator, fraud.yaml drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.metrics import average_precision_score

from trainer.config.compose import conf_dir
from trainer.data.feature_layout import FeatureLayout
from trainer.data.preprocessing import build_preprocessor
from trainer.errors import ConfigError
from trainer.fraud.claims import ClaimsSource
from trainer.fraud.explain import flagged_rows, permutation_importance_ap, top_columns_overall


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "amount": rng.normal(size=300),
            "age": rng.normal(size=300),
            "colour": rng.choice(["red", "green", "blue"], size=300),
        }
    )


def test_layout_maps_every_output_column_to_its_raw_column(frame: pd.DataFrame) -> None:
    pre = build_preprocessor(["amount", "age"], ["colour"]).fit(frame)
    layout = FeatureLayout.from_preprocessor(pre)
    assert layout.raw_columns == ["amount", "age", "colour", "colour", "colour"]
    assert layout.numeric == [0, 1] and layout.groups == {"colour": [2, 3, 4]}
    x = pre.transform(frame)
    assert np.allclose(layout.unfold(layout.fold(x)), x)  # fold/unfold round-trips real rows


def test_permutation_importance_finds_the_signal_column(frame: pd.DataFrame) -> None:
    y = ((frame["amount"] > 0.8) | (frame["colour"] == "red")).astype(int).to_numpy()

    def score(rows: pd.DataFrame) -> np.ndarray:
        return rows["amount"].to_numpy() + 2.0 * (rows["colour"] == "red").to_numpy()

    table = permutation_importance_ap(score, frame, y, n_repeats=2)
    assert set(table["column"]) == {"amount", "age", "colour"}
    assert table.iloc[-1]["column"] == "age" and table.set_index("column").loc["age", "importance"] == 0
    assert table.attrs["baseline_ap"] == pytest.approx(average_precision_score(y, score(frame)))


def test_flagged_rows_name_the_raw_columns_behind_the_error(frame: pd.DataFrame) -> None:
    pre = build_preprocessor(["amount", "age"], ["colour"]).fit(frame)
    layout = FeatureLayout.from_preprocessor(pre)
    x = torch.as_tensor(pre.transform(frame), dtype=torch.float32)

    def errors(rows: torch.Tensor) -> np.ndarray:
        out = np.zeros(tuple(rows.shape))
        out[:, 0] = 1.0  # amount: half of each row's error
        out[:, 2:5] = 1 / 3  # colour, spread over its three one-hot columns: the other half
        return out

    scores = np.arange(len(frame), dtype=float)
    labels = np.zeros(len(frame), dtype=int)
    table = flagged_rows(errors, x, scores, threshold=295, layout=layout, labels=labels, top_columns=2)
    assert list(table["row"]) == [299, 298, 297, 296, 295]  # most suspicious first
    assert set(table["column_1"]) | set(table["column_2"]) == {"amount", "colour"}
    assert table["share_1"].tolist() == [0.5] * 5
    assert set(top_columns_overall(table)["column"]) <= {"amount", "colour"}
    assert flagged_rows(errors, x, scores, threshold=1e9, layout=layout, labels=labels).empty


def test_claims_generator_rate_signal_and_errors() -> None:
    frame = ClaimsSource(n_samples=4000, fraud_rate=0.05, random_state=1).load()
    assert frame["fraud"].mean() == pytest.approx(0.05, abs=0.012)
    assert {"police_report", "claim_amount", "noise_0"} <= set(frame.columns)
    no_report = frame.groupby("police_report")["fraud"].mean()
    assert no_report["no"] > 2 * no_report["yes"]  # the hidden signal is there
    with pytest.raises(ConfigError, match=r"fraud_rate=0\.7 must be in"):
        ClaimsSource(fraud_rate=0.7)


def test_fraud_yaml_keeps_the_keys_of_train_yaml() -> None:
    """fraud.yaml repeats train.yaml's root keys (Hydra cannot inherit a root config's defaults
    and keep experiments last); this catches one drifting from the other."""
    train = yaml.safe_load((conf_dir() / "train.yaml").read_text())
    fraud = yaml.safe_load((conf_dir() / "fraud.yaml").read_text())
    groups = lambda cfg: {next(iter(d)) for d in cfg["defaults"] if isinstance(d, dict)}  # noqa: E731
    assert groups(train) <= groups(fraud)
    for key, value in train.items():
        if key == "defaults":
            continue
        assert key in fraud, f"fraud.yaml lacks train.yaml's key {key!r}"
        if isinstance(value, dict):
            assert set(value) <= set(fraud[key]), f"fraud.yaml's {key} lacks keys of train.yaml's"
