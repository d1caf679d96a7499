"""`trainer fraud` end to end: MLflow parent and children, comparison files, explanations, errors."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from trainer.cli import main as cli_main
from trainer.config.compose import compose_config
from trainer.errors import ConfigError, DataError, UserError
from trainer.fraud.claims import ClaimsSource
from trainer.fraud.command import fraud_command
from trainer.fraud.report import MAIN_COLUMNS
from trainer.fraud.settings import APPROACHES
from trainer.fraud.study import run_study

from .conftest import FRAUD_ORACLE, study_overrides

SOME = (
    "fraud.approaches=[no_skill,plain,weighted,smote,smotenc,random_under,autoencoder,hgb,isolation_forest]"
)


def test_fraud_command_end_to_end_with_mlflow_parent_and_children(
    store: tuple[str, object, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, client, experiment_id = store
    assert (
        fraud_command(study_overrides(tmp_path, SOME, "fraud.autoencoder.noise=0.1", tracking_uri=uri)) == 0
    )
    out = capsys.readouterr().out
    assert "Fraud study" in out and "comparison.csv" in out

    runs = client.search_runs([experiment_id])  # type: ignore[attr-defined]
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    children = {r.data.tags["fraud.approach"]: r for r in runs if r is not parent}
    approaches = SOME.split("[")[1].rstrip("]").split(",")
    assert set(children) == set(approaches)
    for approach, child in children.items():
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED" and "test/ap" in child.data.metrics
        assert child.info.run_name == approach  # not the study's name cut to the same letters
    page = f"/#/experiments/{experiment_id}/runs/{parent.info.run_id}?workflowType=machine_learning"
    assert out.rstrip().endswith(page) and "View run" not in out
    # The parent's page: the comparison by test AP, the winner named, each approach linked.
    description = parent.data.tags["mlflow.note.content"]
    aps = {name: child.data.metrics["test/ap"] for name, child in children.items()}
    winner = max(aps, key=aps.__getitem__)
    assert f"**Highest test AP: {winner}** ({aps[winner]:.4g})" in description
    link = "[{}](http://127.0.0.1:5000/#/experiments/{}/runs/{}?workflowType=machine_learning)"
    rows = [line for line in description.splitlines() if line.startswith("| [")]
    assert rows == sorted(rows, key=lambda line: -aps[line[3 : line.index("]")]])  # best first
    for name, child in children.items():
        assert link.format(name, experiment_id, child.info.run_id) in description
    assert not [key for key in parent.data.metrics if "/test_" in key]  # no wall of one-dot charts
    for run in runs:  # MLflow's "Created by" and "Source" columns, on every run
        assert run.data.tags["mlflow.user"] and run.data.tags["mlflow.source.name"]
    # Networks logged their epochs: val/ap drives a classifier's early stopping and checkpoint;
    # the autoencoder's is the loss on normal validation rows, which carry no fraud label.
    assert "val/ap" in children["weighted"].data.metrics
    assert (
        "val/loss" in children["autoencoder"].data.metrics
        and "val/ap" not in children["autoencoder"].data.metrics
    )
    assert children["smote"].data.params["sampler"] == "smote"

    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}  # type: ignore[attr-defined]
    assert {"comparison.csv", "comparison.md", "figures", "explanations"} <= artifacts
    figures = {a.path for a in client.list_artifacts(parent.info.run_id, "figures")}  # type: ignore[attr-defined]
    assert {"figures/pr_curves.png", "figures/roc_curves.png", "figures/autoencoder_errors.png"} <= figures

    study_dir = next((tmp_path / "runs").iterdir())
    table = pd.read_csv(study_dir / "comparison.csv")
    assert list(table.columns[: len(MAIN_COLUMNS)]) == MAIN_COLUMNS
    assert list(table["approach"]) == approaches
    assert table.set_index("approach").loc["smotenc", "sampler"] == "smotenc"
    no_skill = table.set_index("approach").loc["no_skill"]
    assert no_skill["recall"] == 0 and no_skill["accuracy"] == no_skill["no_skill_accuracy"]
    assert table["ap"].between(0, 1).all()
    importance = pd.read_csv(study_dir / "explanations" / "permutation_importance.csv")
    raw_columns = set(ClaimsSource(n_samples=20).load().columns) - {"fraud"}
    assert set(importance["column"]) == raw_columns  # original column names, not one-hot features
    flagged = pd.read_csv(study_dir / "explanations" / "autoencoder_flagged_rows.csv")
    assert len(flagged) > 0 and set(flagged["column_1"]) <= raw_columns
    # Best checkpoints by validation AP.
    assert list((study_dir / "approaches" / "weighted" / "checkpoints").glob("*val_ap*.ckpt"))


def test_every_approach_runs(tmp_path: Path) -> None:
    result = run_study(compose_config(study_overrides(tmp_path), config_name="fraud"), print_table=False)
    configured = list(compose_config([], config_name="fraud").cfg.fraud.approaches)
    assert set(configured) == set(APPROACHES)  # fraud.yaml runs every approach by default
    assert list(result.table["approach"]) == configured
    assert all(math.isfinite(v) for v in result.table["ap"])


def test_cli_wiring_when_present(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["fraud", *study_overrides(tmp_path, "fraud.approaches=[no_skill,hgb]")])
    if code == 2 and "unknown command 'fraud'" in capsys.readouterr().err:
        pytest.skip("trainer.cli does not dispatch `fraud` yet (the lead wires it)")
    assert code == 0


def test_print_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fraud_command(["--cfg", "fraud.threshold.rule=top_k"]) == 0
    assert "rule: top_k" in capsys.readouterr().out


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_approach_ends_its_run_and_the_parent_failed_with_the_error(
    store: tuple[str, object, str], tmp_path: Path, workers: int
) -> None:
    uri, client, experiment_id = store
    # A learning rate no network survives: the loss becomes NaN while plain trains (in a worker
    # process with workers=2: its error comes back whole).
    overrides = study_overrides(
        tmp_path,
        "optimizer.lr=1e30",
        "fraud.approaches=[no_skill,plain]",
        f"fraud.workers={workers}",
        tracking_uri=uri,
    )
    with pytest.raises(UserError, match="The training loss became nan"):
        run_study(compose_config(overrides, config_name="fraud"), print_table=False)
    runs = client.search_runs([experiment_id])  # type: ignore[attr-defined]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {r.data.tags["fraud.approach"]: r for r in runs if r is not parent}
    assert parent.info.status == "FAILED" and "became nan" in parent.data.tags["error"]
    assert children["no_skill"].info.status == "FINISHED"
    assert children["plain"].info.status == "FAILED" and "became nan" in children["plain"].data.tags["error"]
    study_dir = next((tmp_path / "runs").iterdir())  # training had begun: the folder and its log stay
    assert "became nan" in (study_dir / "fraud.log").read_text()
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}  # type: ignore[attr-defined]
    assert "fraud.log" in artifacts


def test_ctrl_c_ends_the_study_and_its_approach_killed(
    store: tuple[str, object, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainer.fraud import study

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "evaluate_approach", interrupted)  # Ctrl-C once the first fit is done
    uri, client, experiment_id = store
    overrides = study_overrides(tmp_path, "fraud.approaches=[no_skill]", tracking_uri=uri)
    with pytest.raises(KeyboardInterrupt):
        run_study(compose_config(overrides, config_name="fraud"), print_table=False)
    runs = client.search_runs([experiment_id])  # type: ignore[attr-defined]
    assert sorted(r.info.status for r in runs) == ["KILLED", "KILLED"]
    assert all("error" not in r.data.tags for r in runs)


# ---------------------------------------------------------------------- bad input
def _run(tmp_path: Path, *extra: str) -> None:
    run_study(compose_config(study_overrides(tmp_path, *extra), config_name="fraud"), print_table=False)


def test_unknown_approach_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fraud.approaches holds 'smoet'; choose from no_skill, plain"):
        _run(tmp_path, "fraud.approaches=[smoet]")


def test_unknown_resample_option_lists_the_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"resample=smoet is not an option.*smote_enn"):
        _run(tmp_path, "resample=smoet")


def test_resample_group_overrides_reach_that_sampler(tmp_path: Path) -> None:
    # 1,200 rows at 1% fraud: about 7 fraud rows in training; k_neighbors=20 cannot work, and
    # smote is the only approach asked for: nothing applies, so nothing starts.
    with pytest.raises(
        DataError, match=r"None of fraud.approaches applies.*k_neighbors=20 needs at least 21"
    ):
        _run(
            tmp_path,
            "data.source.fraud_rate=0.01",
            "resample=smote",
            "resample.k_neighbors=20",
            "fraud.approaches=[smote]",
        )
    _assert_no_study_folder(tmp_path)


def test_single_class_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame({"amount": range(50), "kind": ["a", "b"] * 25, "fraud": [0] * 50}).to_csv(path, index=False)
    with pytest.raises(DataError, match="single class"):
        _run(
            tmp_path,
            "data=csv",
            f"data.source.path={path}",
            "data.target=fraud",
            "data.task=auto",
            "fraud.approaches=[plain]",
        )


def test_a_multiclass_target_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    pd.DataFrame({"amount": range(90), "kind": ["a", "b", "c"] * 30}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"needs a binary target; data.target='kind' has 3 classes"):
        _run(tmp_path, "data=csv", f"data.source.path={path}", "data.target=kind", "fraud.approaches=[plain]")
    _assert_no_study_folder(tmp_path)


def _assert_no_study_folder(tmp_path: Path) -> None:
    """A mistake found before anything trained leaves no folder behind (RunFolder.discard)."""
    runs = tmp_path / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_chosen_folder_that_existed_is_kept_after_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    pd.DataFrame({"amount": range(90), "kind": ["a", "b", "c"] * 30}).to_csv(path, index=False)
    chosen = tmp_path / "mine"
    (chosen / "notes").mkdir(parents=True)
    with pytest.raises(DataError, match="needs a binary target"):
        _run(tmp_path, "data=csv", f"data.source.path={path}", "data.target=kind", f"paths.run_dir={chosen}")
    assert (chosen / "notes").is_dir()  # not made by the study: not the study's to remove


def test_no_fraud_in_validation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    # Fraud only in the earliest rows: a time split leaves none for validation.
    frame = pd.DataFrame({"t": range(200), "amount": range(200), "fraud": [1] * 10 + [0] * 190})
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="The val split has no fraud rows"):
        _run(
            tmp_path,
            "data=csv",
            f"data.source.path={path}",
            "data.target=fraud",
            "data.split=time",
            "+data.time_column=t",
            "fraud.approaches=[plain]",
        )
    _assert_no_study_folder(tmp_path)


def test_missing_and_non_numeric_columns_come_from_the_data_layer(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    amounts = [str(i) for i in range(59)] + ["12,5"]  # one decimal comma among numbers
    pd.DataFrame({"amount": amounts, "fraud": [0, 1, 0] * 20}).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"data.target='frud' is not a column.*Did you mean 'fraud'"):
        _run(tmp_path, "data=csv", f"data.source.path={path}", "data.target=frud")
    with pytest.raises(UserError, match=r"Column 'amount' .* is numeric but row 59 .* holds '12,5'"):
        _run(tmp_path, "data=csv", f"data.source.path={path}", "data.target=fraud")


@pytest.mark.slow
@pytest.mark.skipif(not FRAUD_ORACLE.is_file(), reason=f"the real claims file {FRAUD_ORACLE} is absent")
def test_real_claims_file_time_split(tmp_path: Path) -> None:
    result = run_study(
        compose_config(
            study_overrides(
                tmp_path,
                "data=fraud_oracle",
                f"data.source.path={FRAUD_ORACLE}",
                "fraud.approaches=[no_skill,weighted,smotenc,autoencoder,hgb,isolation_forest]",
            ),
            config_name="fraud",
        ),
        print_table=False,
    )
    table = result.table.set_index("approach")
    assert table.loc["no_skill", "ap"] == pytest.approx(0.052, abs=0.002)  # 1996's fraud rate
    assert table.loc["hgb", "ap"] > 0.08 and table.loc["weighted", "ap"] > table.loc["no_skill", "ap"]


def _small_table(path: Path, *, rows: int = 240, categorical: bool = True, empty: bool = False) -> Path:
    """A small fraud table: two numeric columns (fraud rows sit apart), a category, 1 in 6 fraud."""
    fraud = [int(i % 6 == 0) for i in range(rows)]
    frame = pd.DataFrame(
        {
            "amount": [i % 17 + 10.0 * f for i, f in enumerate(fraud)],
            "age": [20 + i % 43 for i in range(rows)],
            "fraud": fraud,
        }
    )
    if categorical:
        frame["kind"] = ["abc"[i % 3] for i in range(rows)]
    if empty:
        frame["notes"] = math.nan
    frame.to_csv(path, index=False)
    return path


def test_a_column_without_values_is_left_out_as_trainer_train_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _small_table(tmp_path / "gaps.csv", empty=True)
    with caplog.at_level("WARNING", logger="trainer"):
        result = run_study(
            compose_config(
                study_overrides(
                    tmp_path,
                    "data=csv",
                    f"data.source.path={path}",
                    "data.target=fraud",
                    "fraud.approaches=[plain,smotenc,hgb]",
                ),
                config_name="fraud",
            ),
            print_table=False,
        )
    assert list(result.table["approach"]) == ["plain", "smotenc", "hgb"]
    assert any("Column 'notes' of " in r.getMessage() for r in caplog.records)
    assert "notes" not in set(result.importance["column"])  # type: ignore[index]


# ---------------------------------------------------------------------- checked before training
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["fraud.threshold.rule=best_f2"],
            r"fraud.threshold.rule='best_f2' is not known; choose one of best_f1",
        ),
        (["fraud.threshold.anomaly_rule=top"], r"fraud.threshold.anomaly_rule='top' is not known"),
        (["fraud.threshold.recall=0"], r"fraud.threshold.recall=0.0 must be in \(0, 1\]"),
        (["fraud.threshold.k=0"], r"fraud.threshold.k=0 must be 1 or more"),
        (["fraud.ensemble=0"], r"fraud.ensemble=0 must be 1 or more"),
        (["fraud.explain.n_repeats=0"], r"fraud.explain.n_repeats=0 must be 1 or more"),
        (["fraud.pos_weight=-1"], r"fraud.pos_weight=-1 must be balanced .* or a number above 0"),
        (["fraud.approaches=[plain,hgb,plain]"], r"fraud.approaches lists 'plain' twice"),
        (
            ["resample=smote", "resample.sampling_strategy=half"],
            r"resample.sampling_strategy='half' is not known",
        ),
        # Found by building the networks and their Trainer once, after the data loaded.
        (["optimizer.betas=[0.9,2.0]"], r"optimizer.betas=\[0.9, 2.0\] is out of range"),
        (["trainer.max_epochs=0"], r"trainer.max_epochs=0 is out of range"),
    ],
)
def test_every_setting_is_checked_before_anything_trains_or_any_folder_exists(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    # hgb first: before these checks, it trained (and plain's network after it) before the
    # threshold settings were read.
    approaches = "fraud.approaches=[hgb,plain,autoencoder,smote]"
    with pytest.raises(ConfigError, match=message):
        _run(tmp_path, approaches, *overrides)
    _assert_no_study_folder(tmp_path)


def test_approaches_that_do_not_apply_are_skipped_before_training_and_the_rest_run(
    store: tuple[str, object, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uri, client, experiment_id = store
    # No categorical column (SMOTENC needs one); about 28 fraud training rows, fewer than ADASYN's 51.
    path = _small_table(tmp_path / "numbers.csv", categorical=False)
    overrides = study_overrides(
        tmp_path,
        "data=csv",
        f"data.source.path={path}",
        "data.target=fraud",
        "resample=adasyn",
        "resample.k_neighbors=50",
        "fraud.approaches=[no_skill,smotenc,plain,adasyn]",
        tracking_uri=uri,
    )
    with caplog.at_level("INFO", logger="trainer"):
        result = run_study(compose_config(overrides, config_name="fraud"), print_table=True)
    assert list(result.table["approach"]) == ["no_skill", "plain"]
    assert set(result.skipped) == {"smotenc", "adasyn"}
    assert "has none after preprocessing" in result.skipped["smotenc"]
    assert "k_neighbors=50 needs at least 51 minority rows" in result.skipped["adasyn"]
    messages = [r.getMessage() for r in caplog.records]
    skip_lines = [i for i, m in enumerate(messages) if m.startswith("Skipping ")]
    first = messages.index(next(m for m in messages if m.startswith("Approach 1/2: no_skill")))
    assert len(skip_lines) == 2 and max(skip_lines) < first, "decided first"
    report = (result.run_dir / "comparison.md").read_text()
    assert "Skipped (they do not apply to this table):" in report
    assert f"- smotenc: {result.skipped['smotenc']}" in report and "- adasyn: " in report
    assert "- smotenc: resample=smotenc is for tables with categorical columns" in capsys.readouterr().out
    runs = client.search_runs([experiment_id])  # type: ignore[attr-defined]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.tags["fraud.skipped"].startswith("smotenc: resample=smotenc is for tables")
    assert sorted(r.data.tags.get("fraud.approach", "") for r in runs) == ["", "no_skill", "plain"]


def test_the_default_approaches_run_on_a_table_without_categorical_columns(tmp_path: Path) -> None:
    path = _small_table(tmp_path / "numbers.csv", categorical=False)
    overrides = study_overrides(tmp_path, "data=csv", f"data.source.path={path}", "data.target=fraud")
    result = run_study(compose_config(overrides, config_name="fraud"), print_table=False)
    configured = list(compose_config([], config_name="fraud").cfg.fraud.approaches)
    assert list(result.skipped) == ["smotenc"]
    assert list(result.table["approach"]) == [a for a in configured if a != "smotenc"]


def test_a_top_k_larger_than_validation_is_said_before_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _small_table(tmp_path / "t.csv")  # 240 rows: 36 in validation
    overrides = [
        "data=csv",
        f"data.source.path={path}",
        "data.target=fraud",
        "fraud.threshold.rule=top_k",
        "fraud.threshold.k=500",
        "fraud.approaches=[plain]",
    ]
    with caplog.at_level("INFO", logger="trainer"):
        _run(tmp_path, *overrides)
    messages = [r.getMessage() for r in caplog.records]
    warning = "fraud.threshold.rule=top_k with k=500 flags every row: the validation split has only 36 rows."
    said = messages.index(next(m for m in messages if m.startswith(warning)))
    assert said < messages.index(next(m for m in messages if m.startswith("Approach 1/1: plain")))


def test_a_store_that_can_never_work_leaves_no_study_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(UserError, match="which is a file, not a folder"):
        run_study(
            compose_config(
                study_overrides(
                    tmp_path, "fraud.approaches=[hgb]", tracking_uri=f"sqlite:///{blocker}/mlflow.db"
                ),
                config_name="fraud",
            ),
            print_table=False,
        )
    _assert_no_study_folder(tmp_path)
