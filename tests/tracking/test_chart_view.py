"""The learning-curves chart view built from a run's metric names (no store: see test_sqlite_run)."""

from __future__ import annotations

from typing import Any

from trainer.tracking.chart_view import charts_url, learning_curves_view, publish_learning_curves, view_key

KEYS = ["epoch", "train/loss", "train/loss_step", "val/loss", "val/accuracy", "test/accuracy", "lr"]


def _shown(state: dict[str, Any]) -> list[list[str]]:
    return [c["selectedMetricKeys"] for c in state["compareRunCharts"] if not c["deleted"]]


def test_train_and_validation_share_a_chart_and_loss_comes_first() -> None:
    state = learning_curves_view(KEYS)
    assert state is not None
    assert _shown(state) == [["train/loss", "val/loss"], ["val/accuracy"]]
    # val/loss, shown beside train/loss, gets no chart of its own from MLflow's generator.
    assert [c["metricKey"] for c in state["compareRunCharts"] if c["deleted"]] == ["val/loss"]
    section = state["compareRunSections"][0]["uuid"]
    assert {c["metricSectionId"] for c in state["compareRunCharts"]} == {section}
    assert state["searchFilter"] == "metrics.epoch > 0"  # runs with curves only


def test_no_view_without_epochs_or_validation_curves() -> None:
    assert learning_curves_view(["train/loss", "val/loss"]) is None  # no epoch axis
    assert learning_curves_view(["epoch", "train/loss", "test/accuracy"]) is None  # nothing validated


def test_the_same_metrics_give_the_same_key_and_others_another() -> None:
    one, again = learning_curves_view(KEYS), learning_curves_view(list(reversed(KEYS)))
    other = learning_curves_view(["epoch", "train/loss", "val/loss", "val/rmse"])
    assert one is not None and again is not None and other is not None
    assert view_key(one) == view_key(again) != view_key(other)


def test_the_address_opens_the_runs_chart_view_in_the_training_view() -> None:
    url = charts_url("http://host:5000/", "7", "learning-curves-abc")
    assert url == (
        "http://host:5000/#/experiments/7/runs?viewStateShareKey=learning-curves-abc"
        "&compareRunsMode=CHART&workflowType=machine_learning"
    )


class _RefusingClient:
    def get_run(self, run_id: str) -> Any:
        raise ConnectionError("server went away")


def test_a_store_that_refuses_costs_only_the_view(caplog: Any) -> None:
    with caplog.at_level("WARNING"):
        assert publish_learning_curves(_RefusingClient(), "1", "run") is None
    assert "did not take the learning-curves chart view" in caplog.text and "server went away" in caplog.text
