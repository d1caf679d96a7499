"""Each threshold rule, chosen on validation scores only, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import ConfigError, DataError
from trainer.fraud.thresholds import RULES, SETTINGS, ThresholdSelector

# 10 rows, 3 fraud; scores sorted so the rules' answers can be worked out by hand.
Y = np.array([0, 0, 0, 0, 0, 1, 0, 1, 0, 1])
S = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])


def test_best_f1_picks_the_threshold_with_the_highest_validation_f1() -> None:
    selector = ThresholdSelector(rule="best_f1").fit(Y, S)
    # Alerts at >= 0.5: 3 of 5 correct, all 3 fraud caught -> F1 0.75, the best on this data.
    assert selector.threshold_ == pytest.approx(0.5)
    assert selector.val_recall_ == 1.0 and selector.val_precision_ == pytest.approx(0.6)


def test_target_recall_is_the_highest_threshold_that_reaches_it() -> None:
    assert ThresholdSelector(rule="target_recall", recall=0.6).fit(Y, S).threshold_ == pytest.approx(0.7)
    assert ThresholdSelector(rule="target_recall", recall=1.0).fit(Y, S).threshold_ == pytest.approx(0.5)


def test_target_precision_is_the_lowest_threshold_that_reaches_it() -> None:
    assert ThresholdSelector(rule="target_precision", precision=0.6).fit(Y, S).threshold_ == pytest.approx(
        0.5
    )
    assert ThresholdSelector(rule="target_precision", precision=1.0).fit(Y, S).threshold_ == pytest.approx(
        0.9
    )


def test_target_precision_out_of_reach_falls_back_to_the_most_precise_threshold() -> None:
    y = np.array([0, 1, 0, 1, 0])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.9])  # the top row is normal: precision never reaches 0.9
    selector = ThresholdSelector(rule="target_precision", precision=0.9).fit(y, s)
    assert selector.threshold_ in s


def test_alert_budgets_top_k_and_top_fraction() -> None:
    assert ThresholdSelector(rule="top_k", k=2).fit(Y, S).threshold_ == pytest.approx(0.8)
    assert ThresholdSelector(rule="top_k", k=100).fit(Y, S).threshold_ == pytest.approx(0.05)  # capped
    assert ThresholdSelector(rule="top_fraction", fraction=0.3).fit(Y, S).threshold_ == pytest.approx(0.7)
    assert ThresholdSelector(rule="top_k", k=3).fit(Y, S).predict(S).sum() == 3


def test_normal_percentile_uses_normal_rows_only() -> None:
    selector = ThresholdSelector(rule="normal_percentile", percentile=50).fit(Y, S)
    assert selector.threshold_ == pytest.approx(np.percentile(S[Y == 0], 50))
    # Fraud scores do not move it.
    assert ThresholdSelector(rule="normal_percentile", percentile=50).fit(Y, S + Y * 100).threshold_ == (
        selector.threshold_
    )


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_returns_a_threshold_that_predict_applies(rule: str) -> None:
    selector = ThresholdSelector(rule=rule).fit(Y, S)
    assert np.array_equal(selector.predict(S), (selector.threshold_ <= S).astype(int))


def test_unknown_rule_and_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"rule='best_f2'.*best_f1, target_recall"):
        ThresholdSelector(rule="best_f2")
    with pytest.raises(ConfigError, match=r"fraud.threshold.recall=1.5 must be in \(0, 1\]"):
        ThresholdSelector(rule="target_recall", recall=1.5)


def test_rules_that_need_fraud_in_validation_say_so() -> None:
    with pytest.raises(DataError, match="validation split, which has none"):
        ThresholdSelector(rule="best_f1").fit(np.zeros(5), np.arange(5.0))
    # An alert budget needs no labels.
    assert ThresholdSelector(rule="top_k", k=1).fit(np.zeros(5), np.arange(5.0)).threshold_ == 4.0


def test_the_rule_table_reads_settings_the_selector_validates() -> None:
    selector = ThresholdSelector()
    assert set(selector.settings()) == set(SETTINGS)
    assert {rule.setting for rule in RULES.values()} - {None} <= set(SETTINGS)
    for rule in RULES:  # a rule the table names is one fit() runs
        assert ThresholdSelector(rule=rule).rule == rule


def test_threshold_defaults_are_stated_alike_in_code_and_conf() -> None:
    import dataclasses
    import inspect

    from trainer.config import compose_config
    from trainer.fraud.settings import ThresholdSettings

    signature = {name: p.default for name, p in inspect.signature(ThresholdSelector).parameters.items()}
    # The settings class states no values: conf/fraud.yaml is the config's one source.
    stated = [f.name for f in dataclasses.fields(ThresholdSettings) if f.default is not dataclasses.MISSING]
    assert stated == []
    conf = compose_config([], config_name="fraud").cfg.fraud.threshold
    assert {key: conf[key] for key in signature} == signature


def test_a_threshold_that_flags_every_validation_row_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="trainer"):
        ThresholdSelector(rule="top_k", k=3).fit(Y, S)
        assert caplog.records == []
        ThresholdSelector(rule="top_k", k=100).fit(Y, S)
        assert caplog.messages == [
            "fraud.threshold.rule=top_k with k=100 flags every row: the validation split has only 10 rows. "
            "Choose fraud.threshold.k below 10, or rule=top_fraction."
        ]
        caplog.clear()
        # The lowest-scored row is fraud: catching all of it takes every row.
        ThresholdSelector(rule="target_recall", recall=1.0).fit(
            np.array([1, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])
        )
    assert caplog.messages[0].startswith(
        "fraud.threshold.rule=target_recall (recall=1.0) flags every one of the 4 validation rows"
    )
