"""optuna-dashboard's notes: each trial's MLflow run as a link and its overrides as drawn."""

from __future__ import annotations

import io

import optuna
import pytest
from optuna_dashboard._note import get_note_from_system_attrs

from trainer.sweep.dashboard_note import trial_note
from trainer.sweep.stages import run_sweep

SMALL = ["hparams_search=mlp", "hparams_search.params.optimizer.choices=[adam,momentum]", "sweep.plots=false"]


def test_a_trial_note_links_the_run_and_gives_floats_as_drawn() -> None:
    note = trial_note(
        3,
        {"model.dropout": 0.30000000000000004, "optimizer.lr": 0.00123, "model.hidden_sizes": "[64, 32]"},
        run_id="abc123",
        address="http://127.0.0.1:5000/#/experiments/1/runs/abc123?workflowType=machine_learning",
    )
    assert note.startswith("## Trial 3")
    assert "[MLflow run abc123](http://127.0.0.1:5000/#/experiments/1/runs/abc123?workflowType=" in note
    assert "model.dropout=0.3 optimizer.lr=0.00123 model.hidden_sizes=[64,32]" in note
    assert "0.30000000000000004" not in note
    # Without a tracker page (logger=none, or no run): no link, still the overrides.
    assert "MLflow run" not in trial_note(0, {"x": 1}, run_id=None, address=None)


@pytest.mark.slow
def test_every_trial_and_the_study_get_a_note_with_their_runs(base: list[str], storage: str) -> None:
    args = [*SMALL, "sweep.n_trials=2", f"sweep.storage={storage}", "sweep.study_name=noted", *base]
    run_sweep(args, stream=io.StringIO())
    study = optuna.load_study(study_name="noted", storage=storage)
    attrs = study._storage.get_study_system_attrs(study._study_id)  # where optuna-dashboard reads notes
    for trial in study.trials:
        note = get_note_from_system_attrs(attrs, trial._trial_id)["body"]
        run_id = trial.user_attrs["run_id"]
        assert (
            f"[MLflow run {run_id}](http" in note and f"/runs/{run_id}?workflowType=machine_learning)" in note
        )
        assert "optimizer=" in note  # the overrides of its parameters
        # The params table reads the stored value: a stepped float is stored as written.
        dropout = trial.params["model.dropout"]
        assert dropout == round(dropout, 1) and f"model.dropout={dropout}" in note, (dropout, note)
    study_note = get_note_from_system_attrs(attrs, None)["body"]
    assert study_note.startswith("## noted") and "[MLflow parent run " in study_note
