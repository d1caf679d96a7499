"""The scikit-learn references, with real scikit-learn: HGB tuned on validation AP, the logistic
regression, the anomaly detectors fit on normal rows only, and what the report says of them."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import average_precision_score, roc_auc_score

from trainer.config.compose import compose_config
from trainer.errors import ConfigError
from trainer.fraud.parent_description import study_description
from trainer.fraud.reference_approaches import run_knn, run_lof, run_logistic, run_pca
from trainer.fraud.references import (
    GradientBoostingReference,
    IsolationForestReference,
    LocalOutlierFactorReference,
    LogisticReference,
    NearestNeighborsReference,
    PCAReference,
)
from trainer.fraud.report import reference_lines, strongest_references
from trainer.fraud.study import load_study_data, run_study, split_config
from trainer.fraud.study_data import ApproachResult, StudyData
from trainer.tracking.base import NullLogger

from .conftest import study_overrides

ANOMALY: dict[str, Callable[[], Any]] = {
    "isolation_forest": lambda: IsolationForestReference(n_estimators=100, random_state=0),
    "lof": lambda: LocalOutlierFactorReference(n_neighbors=20, random_state=0),
    "knn": lambda: NearestNeighborsReference(n_neighbors=5, random_state=0),
    "pca": lambda: PCAReference(variance=0.9, random_state=0),
}


def _noisy_table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Fraud depends weakly on two columns; the rest is noise, so many trees overfit it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["kind"] = rng.choice(list("abcd"), size=n)
    logit = -2.5 + 0.9 * frame["x0"] - 0.7 * frame["x1"] + 0.5 * (frame["kind"] == "a")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame, y


def _low_rank(n: int, seed: int) -> np.ndarray:
    """Normal rows near a 2-dimensional plane of an 8-dimensional space."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).normal(size=(2, 8))
    return rng.normal(size=(n, 2)) @ basis + 0.05 * rng.normal(size=(n, 8))


# ---------------------------------------------------------------------- hgb
def test_hgb_stops_where_more_iterations_overfit_and_beats_a_fixed_200_on_validation() -> None:
    train, y = _noisy_table(1500, seed=0)
    val, y_val = _noisy_table(1000, seed=1)
    numeric, categorical = [f"x{i}" for i in range(8)], ["kind"]
    model = GradientBoostingReference(
        numeric=numeric,
        categorical=categorical,
        max_iter=300,
        patience=300,  # grown to max_iter: the count is chosen from every iteration
        learning_rates=[0.05, 0.1],
        max_leaf_nodes=[15, 31],
        random_state=0,
    ).fit(train, y, val, y_val)
    assert model.best_["n_iter"] < 300
    assert [s["grown"] for s in model.search_] == [300] * 4
    # The kept model is the chosen setting at the chosen count (the refit grows the same trees).
    assert average_precision_score(y_val, model.score(val)) == pytest.approx(model.best_["val_ap"])
    assert model.model_.n_iter_ == model.best_["n_iter"]

    fixed = HistGradientBoostingClassifier(
        categorical_features=model.model_.categorical_features,
        max_iter=200,
        early_stopping=False,
        random_state=0,
    ).fit(model.encoder_.transform(train), y)
    fixed_ap = average_precision_score(y_val, fixed.predict_proba(model.encoder_.transform(val))[:, 1])
    assert model.best_["val_ap"] >= fixed_ap


def test_hgb_patience_stops_growing_a_setting_and_keeps_its_best_count() -> None:
    train, y = _noisy_table(1500, seed=0)
    val, y_val = _noisy_table(1000, seed=1)
    options: dict[str, Any] = {
        "numeric": [f"x{i}" for i in range(8)],
        "categorical": ["kind"],
        "random_state": 0,
    }
    grid: dict[str, Any] = {"learning_rates": [0.1], "max_leaf_nodes": [31]}
    full = GradientBoostingReference(max_iter=400, patience=400, **grid, **options).fit(train, y, val, y_val)
    early = GradientBoostingReference(max_iter=400, patience=60, **grid, **options).fit(train, y, val, y_val)
    assert full.best_["n_iter"] + 60 <= early.search_[0]["grown"] < 400
    assert early.best_ == {**full.best_, "grown": early.search_[0]["grown"]}  # same trees, same choice


# ---------------------------------------------------------------------- logistic
def test_logistic_picks_c_on_validation_ap_without_convergence_warnings() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 10))
    y = (x[:, 0] + 0.5 * rng.normal(size=1200) > 1.6).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LogisticReference(cs=[0.001, 0.1, 10.0]).fit(x[:800], y[:800], x[800:], y[800:])
    assert set(model.search_) == {0.001, 0.1, 10.0}
    assert model.val_ap_ == max(model.search_.values()) == model.search_[model.best_c_]
    assert model.model_.class_weight == "balanced" and model.best_c_ == model.model_.C


# ---------------------------------------------------------------------- anomaly references
@pytest.mark.parametrize("name", list(ANOMALY))
def test_each_anomaly_reference_ranks_planted_outliers_above_normal_rows(name: str) -> None:
    normal = _low_rank(600, seed=0)
    rng = np.random.default_rng(1)
    fresh = _low_rank(300, seed=2)
    outliers = _low_rank(30, seed=3) + rng.choice([-1.5, 1.5], size=(30, 8))  # off the plane
    model = ANOMALY[name]().fit(normal)  # fit takes rows alone: no label can reach it
    scores = model.score(np.vstack([fresh, outliers]))
    truth = np.r_[np.zeros(len(fresh)), np.ones(len(outliers))]
    assert roc_auc_score(truth, scores) > 0.95
    assert np.isfinite(scores).all()


@pytest.fixture(scope="module")
def claims_data(tmp_path_factory: pytest.TempPathFactory) -> StudyData:
    """The study's own data (the FAST generated claims), loaded as the study loads it."""
    tmp = tmp_path_factory.mktemp("claims")
    composed = compose_config(study_overrides(tmp), config_name="fraud")
    return load_study_data(*split_config(composed.cfg))


@pytest.mark.parametrize(
    ("runner", "reference"),
    [
        (run_lof, lambda d: LocalOutlierFactorReference(random_state=int(d.cfg.seed))),
        (run_knn, lambda d: NearestNeighborsReference(random_state=int(d.cfg.seed))),
        (run_pca, lambda d: PCAReference(random_state=int(d.cfg.seed))),
    ],
)
def test_the_study_fits_anomaly_references_on_normal_training_rows_only(
    claims_data: StudyData,
    runner: Callable[..., ApproachResult],
    reference: Callable[[StudyData], Any],
    tmp_path: Path,
) -> None:
    data = claims_data
    x, y = data.tensors["train"]
    assert y.sum() > 0  # fraud rows are there, and must not be used
    result = runner(data, "x", run_dir=tmp_path, logger=NullLogger())
    options = data.settings.references
    model = reference(data)
    for key, value in {
        "n_neighbors": options.lof_neighbors if runner is run_lof else options.knn_neighbors,
        "max_rows": options.neighbors_max_rows,
        "variance": options.pca_variance,
    }.items():
        if hasattr(model, key):
            setattr(model, key, value)
    model.fit(x[y == 0].numpy())  # the fraud rows removed by hand
    assert result.family == "anomaly" and result.params["fit_on"] == "normal training rows"
    np.testing.assert_allclose(result.test_scores, model.score(data.tensors["test"][0].numpy()))
    np.testing.assert_allclose(result.val_scores, model.score(data.tensors["val"][0].numpy()))


@pytest.mark.parametrize("cls", [LocalOutlierFactorReference, NearestNeighborsReference])
def test_lof_and_knn_keep_at_most_max_rows_a_seeded_sample(cls: type) -> None:
    normal = _low_rank(400, seed=0)
    model = cls(max_rows=50, random_state=3).fit(normal)
    assert model.rows_ == 50 and model.model_.n_samples_fit_ == 50
    again = cls(max_rows=50, random_state=3).fit(normal)
    other = cls(max_rows=50, random_state=4).fit(normal)
    probe = _low_rank(20, seed=5)
    np.testing.assert_array_equal(model.score(probe), again.score(probe))
    assert not np.array_equal(model.score(probe), other.score(probe))
    assert cls(max_rows=1000, random_state=3).fit(normal).rows_ == 400  # under the cap: every row


def test_run_lof_and_knn_say_the_cap_in_their_params(claims_data: StudyData, tmp_path: Path) -> None:
    normal = int((claims_data.labels("train") == 0).sum())
    for runner in (run_lof, run_knn):
        params = runner(claims_data, "x", run_dir=tmp_path, logger=NullLogger()).params
        assert params["max_rows"] == claims_data.settings.references.neighbors_max_rows
        assert params["rows_fit"] == min(normal, params["max_rows"])
        assert params["subsampled"] == (normal > params["max_rows"])


def test_pca_keeps_fewer_components_than_features() -> None:
    assert PCAReference(variance=0.9).fit(_low_rank(300, seed=0)).n_components_ == 2
    isotropic = np.random.default_rng(0).normal(size=(300, 6))
    pca = PCAReference(variance=0.999999).fit(isotropic)  # would need all 6
    assert pca.n_components_ == 5
    assert (pca.score(isotropic) > 0).all()


def test_run_pca_and_logistic_record_what_they_chose(claims_data: StudyData, tmp_path: Path) -> None:
    pca = run_pca(claims_data, "pca", run_dir=tmp_path, logger=NullLogger()).params
    assert 1 <= pca["n_components"] < pca["n_features"]
    logistic = run_logistic(claims_data, "logistic", run_dir=tmp_path, logger=NullLogger())
    assert logistic.family == "reference"
    assert logistic.params["C"] in claims_data.settings.references.logistic_c


# ---------------------------------------------------------------------- the report
def test_strongest_reference_of_each_kind_leaves_the_autoencoder_out() -> None:
    table = pd.DataFrame(
        {
            "approach": ["weighted", "hgb", "logistic", "autoencoder", "isolation_forest", "pca"],
            "ap": [0.5, 0.3, 0.35, 0.9, 0.1, 0.2],
            "family": ["network", "reference", "reference", "anomaly", "anomaly", "anomaly"],
            "val_ap": [0.4, 0.3, 0.3, 0.8, 0.1, 0.2],
            "roc_auc": [0.8] * 6,
            "threshold": [0.5] * 6,
            "rule": ["best_f1"] * 6,
        }
    )
    strongest = strongest_references(table)
    assert {kind: row["approach"] for kind, row in strongest.items()} == {
        "classifier": "logistic",
        "anomaly": "pca",
    }
    lines = reference_lines(table)
    assert lines == [
        "Strongest classifier reference (of hgb, logistic): logistic, test AP 0.35",
        "Strongest anomaly reference (of isolation_forest, pca): pca, test AP 0.2",
    ]
    description = study_description(table, child_run_ids={}, skipped={}, address=lambda _: None)
    assert all(line in description for line in lines)
    assert strongest_references(table[table["approach"].isin(["weighted", "autoencoder"])]) == {}


def test_the_study_runs_every_reference_and_names_the_strongest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["hgb", "logistic", "isolation_forest", "lof", "knn", "pca"]
    overrides = study_overrides(tmp_path, f"fraud.approaches=[{','.join(names)}]")
    result = run_study(compose_config(overrides, config_name="fraud"), print_table=True)
    table = result.table.set_index("approach")
    assert list(result.table["approach"]) == names
    assert all(math.isfinite(v) for v in table["ap"])
    assert set(table.loc[["hgb", "logistic"], "family"]) == {"reference"}
    assert set(table.loc[["isolation_forest", "lof", "knn", "pca"], "family"]) == {"anomaly"}
    classifier = table.loc[["hgb", "logistic"], "ap"].idxmax()
    anomaly = table.loc[["isolation_forest", "lof", "knn", "pca"], "ap"].idxmax()
    report = (result.run_dir / "comparison.md").read_text()
    out = capsys.readouterr().out
    for line in reference_lines(result.table):
        assert line in report and line in out
    assert f"Strongest classifier reference (of hgb, logistic): {classifier}, test AP" in report
    assert f"Strongest anomaly reference (of isolation_forest, lof, knn, pca): {anomaly}, test AP" in report


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("fraud.references.hgb_learning_rates=[]", r"hgb_learning_rates=\[\] must be a non-empty list"),
        ("fraud.references.hgb_max_leaf_nodes=[1]", r"hgb_max_leaf_nodes=\[1\] must be"),
        ("fraud.references.logistic_c=[0,1]", r"logistic_c=\[0.0, 1.0\] must be"),
        ("fraud.references.pca_variance=1.0", r"pca_variance=1.0 must be in \(0, 1\)"),
        ("fraud.references.neighbors_max_rows=1", r"neighbors_max_rows=1 must be 2 or more"),
        ("fraud.references.hgb_patience=0", r"hgb_patience=0 must be 1 or more"),
    ],
)
def test_reference_settings_are_range_checked(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        split_config(compose_config(study_overrides(tmp_path, override), config_name="fraud").cfg)


def test_the_searches_average_precision_is_scikit_learns() -> None:
    from trainer.fraud.references import _ap

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = (rng.random(300) < 0.1).astype(np.int64)
        scores = rng.integers(0, 20, size=300).astype(float)  # many ties
        assert _ap(y, scores) == pytest.approx(average_precision_score(y, scores))
        scores = rng.normal(size=300)
        assert _ap(y, scores) == pytest.approx(average_precision_score(y, scores))
    assert _ap(np.zeros(5, dtype=np.int64), np.arange(5.0)) == 0.0
