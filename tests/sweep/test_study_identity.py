"""One study per question: named from its space and data, and never continued with other fixed
overrides (real sqlite storages in tmp_path)."""

from __future__ import annotations

import io

import optuna
import pytest

from trainer.errors import ConfigError
from trainer.sweep.config import load_sweep
from trainer.sweep.stages import run_sweep
from trainer.sweep.study_identity import defining_overrides, require_same_question

SMALL = ["hparams_search=mlp", "hparams_search.params.optimizer.choices=[adam]", "sweep.n_trials=1"]


def test_the_default_study_name_says_space_and_data() -> None:
    settings, _, _ = load_sweep(["hparams_search=mlp", "data=digits"])
    assert settings.study_name == "mlp-digits"
    named, _, _ = load_sweep(["hparams_search=mlp", "data=digits", "sweep.study_name=mine"])
    assert named.study_name == "mine"


def test_only_what_trials_train_defines_the_question() -> None:
    overrides = [
        "paths.runs_dir=/a",
        "logger.tracking_uri=sqlite:///x.db",
        "+logger.tags.team=x",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        "model.dropout=0.2",
        "data=digits",
    ]
    assert defining_overrides(overrides) == ["data=digits", "model.dropout=0.2"]


def test_a_study_continued_with_other_fixed_overrides_is_refused(tmp_path: object) -> None:
    study = optuna.create_study(study_name="q", storage=optuna.storages.InMemoryStorage())
    study.set_user_attr("base_overrides", ["data=digits", "paths.runs_dir=/old"])
    require_same_question(study, ["paths.runs_dir=/new", "data=digits"], storage="memory")  # same question
    with pytest.raises(ConfigError) as caught:
        require_same_question(study, ["data=digits", "model.dropout=0.5"], storage="sqlite:///o.db")
    message = str(caught.value)
    assert "Study q in sqlite:///o.db" in message and "adds model.dropout=0.5" in message
    assert "sweep.study_name=" in message


def test_a_study_continued_with_other_data_settings_is_refused_before_any_trial(
    base: list[str], storage: str
) -> None:
    """The default name is the space and the data; other data settings under that name are refused."""
    [first] = run_sweep([*SMALL, f"sweep.storage={storage}", *base], stream=io.StringIO())
    other = [o if not o.startswith("data.source.n_samples") else "data.source.n_samples=200" for o in base]
    with pytest.raises(ConfigError, match="other fixed overrides"):
        run_sweep([*SMALL, f"sweep.storage={storage}", f"sweep.study_name={first.study_name}", *other])
    assert first.study_name == "mlp-synthetic_classification"
    study = optuna.load_study(study_name=first.study_name, storage=storage)
    [trial] = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert study.metric_names == ["val/loss"]  # optuna-dashboard's label, not "Objective 0"
