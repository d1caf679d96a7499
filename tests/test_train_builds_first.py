"""``trainer train`` builds everything that can fail before it makes and announces the run folder.

A mistake found while building (an option only the built component checks, a column the data
lacks, a Trainer option out of range) leaves no ``runs/`` folder and never prints "Run ... in".
The lines building logged still reach the run's ``train.log`` when the run goes ahead.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from trainer.cli import main


@pytest.fixture
def claims_csv(tmp_path: Path) -> Path:
    path = tmp_path / "claims.csv"
    pd.DataFrame({"amount": range(60), "kind": ["a", "b", "c"] * 20, "fraud": [0, 0, 1] * 20}).to_csv(
        path, index=False
    )
    return path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # The optimizer's range check runs when the factory is built, after the data loaded.
        (["optimizer.betas=[0.9,2.0]"], "optimizer.betas=[0.9, 2.0] is out of range"),
        # The Trainer checks its options in its constructor.
        (["trainer.max_epochs=0"], "trainer.max_epochs=0 is out of range"),
        (["data=csv", "data.source.path={csv}", "data.target=frud"], "data.target='frud' is not a column"),
    ],
)
def test_a_mistake_found_while_building_makes_and_announces_no_folder(
    overrides: list[str],
    message: str,
    claims_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [o.format(csv=claims_csv) for o in overrides]
    with caplog.at_level(logging.INFO, logger="trainer"):
        status = main(["train", *args, "logger=none", f"paths.runs_dir={tmp_path / 'runs'}"])
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert not [r for r in caplog.records if r.getMessage().startswith("Run ")], "no folder was announced"


def test_the_lines_logged_while_building_are_in_train_log(
    claims_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    overrides = [
        "data=csv",
        f"data.source.path={claims_csv}",
        "data.target=fraud",
        "trainer.max_epochs=1",
        "callbacks.progress=null",
        "logger=csv",  # built before the folder exists: its files still land in the folder
        f"paths.runs_dir={tmp_path / 'runs'}",
    ]
    assert main(["train", *overrides]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    lines = (run_dir / "train.log").read_text().splitlines()
    data_line = next(i for i, line in enumerate(lines) if "trainer.data.tabular: Data " in line)
    run_line = next(i for i, line in enumerate(lines) if f"Run {run_dir.name.split('_', 2)[-1]} in" in line)
    assert data_line < run_line
    assert sum("trainer.data.tabular: Data " in line for line in lines) == 1, "each line once"
    assert (run_dir / "metrics.csv").is_file() and (run_dir / "params.yaml").is_file()
