"""The ``trainer`` command: help, train, --cfg, errors without tracebacks, and eval of a saved run.

Each subprocess pays for the imports (several seconds), so only what needs a fresh process (exit
status, stderr as a user sees it, a run from another folder) runs in one; the rest calls
``trainer.cli.main`` in this process, which is what the console script calls.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from trainer.cli import main
from trainer.config import group_options
from trainer.train import RunResult

from .conftest import CONF, RunCli

METRIC_ROW = re.compile(r"^\W*((?:val|test)/\w+)\W+(-?\d+\.\d{4}|n/a)\W*$")


def _metrics_table(stdout: str) -> dict[str, str]:
    """``{name: printed value}`` from the rich table the CLI prints."""
    rows = (METRIC_ROW.match(line.strip()) for line in stdout.splitlines())
    return {m.group(1): m.group(2) for m in rows if m}


SPLIT_ROW = re.compile(r"^\W*(\w+)\W+(-?\d+\.\d{4}|n/a)?[^\w/.-]+(-?\d+\.\d{4}|n/a)?\W*$")


def _run_table(stdout: str) -> dict[str, str]:
    """``{"val/x": value, "test/x": value}`` from the validation | test table ``trainer train`` prints."""
    found = {}
    for line in stdout.splitlines():
        match = SPLIT_ROW.match(line.strip())
        if match and (match.group(2) or match.group(3)):
            for split, value in (("val", match.group(2)), ("test", match.group(3))):
                if value:
                    found[f"{split}/{match.group(1)}"] = value
    return found


def _assert_one_clean_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_help_lists_commands_and_groups_with_their_options(run_cli: RunCli) -> None:
    done = run_cli("--help")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for command in ("train", "eval", "help"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command
    usage, _, groups = out.partition("config groups")
    assert "commands:" in usage and "--cfg" in usage
    assert f"from {CONF}" in groups
    listed = {line.split()[0]: line.split(None, 1)[1] for line in groups.splitlines()[1:] if line.strip()}
    assert listed == {group: ", ".join(options) for group, options in group_options(CONF).items()}


def test_train_fast_dev_run_prints_metrics_and_the_run_folder(run_cli: RunCli, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = run_cli("train", "trainer.fast_dev_run=true", "logger=none", f"paths.runs_dir={runs}")
    assert done.returncode == 0, done.stderr
    assert "Final metrics" in done.stdout
    metrics = _run_table(done.stdout)
    assert {"val/loss", "val/accuracy", "test/loss", "test/accuracy"} <= set(metrics)
    (run_dir,) = runs.iterdir()
    assert f"Run saved to {run_dir}" in done.stdout
    assert (run_dir / "config.yaml").is_file() and (run_dir / "train.log").is_file()
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert f"{saved['test/loss']:.4f}" == metrics["test/loss"]
    assert f"{saved['val/loss']:.4f}" == metrics["val/loss"]
    assert "Finished:" not in done.stdout + done.stderr  # the numbers are printed once, in the table
    # The run's last line: where it is (logger=none: the folder); "test it again" comes before.
    assert done.stdout.rstrip().splitlines()[-1] == f"Run saved to {run_dir}"
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing else in the working dir


@pytest.fixture
def in_process(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """``in_process(*args)``: ``trainer.cli.main(args)`` from tmp_path -> (status, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRAINER_CONF_DIR", str(CONF))
    trainer_logger = logging.getLogger("trainer")
    level = trainer_logger.level

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    yield run
    trainer_logger.setLevel(level)  # main() sets up console logging; leave the process as it was


def test_train_cfg_prints_the_composed_yaml_and_stops(
    in_process: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    status, out, err = in_process("train", "--cfg", "optimizer=sgd", "trainer.max_epochs=7")
    assert status == 0, err
    printed = yaml.safe_load(out)
    assert printed["trainer"]["max_epochs"] == 7
    assert printed["optimizer"]["_target_"] == "trainer.optim.optimizers.SGD"
    assert printed["data"]["seed"] == "${seed}"  # the config as composed, before interpolation
    assert "hydra" not in printed
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing was written


def test_typo_exits_2_with_one_line_and_no_traceback(run_cli: RunCli) -> None:
    done = run_cli("train", "trainer.max_epoch=3")
    assert done.returncode == 2
    line = _assert_one_clean_error_line(done.stderr)
    assert "trainer.max_epoch" in line and "Did you mean 'max_epochs'?" in line
    assert "Final metrics" not in done.stdout


def test_eval_needs_a_checkpoint_and_unknown_commands_are_named(
    in_process: Callable[..., tuple[int, str, str]],
) -> None:
    status, _, err = in_process("eval")
    assert status == 2 and "trainer eval needs ckpt_path=" in _assert_one_clean_error_line(err)
    status, _, err = in_process("trian")
    assert status == 2 and "unknown command 'trian'" in _assert_one_clean_error_line(err)
    status, _, err = in_process("train", "--epochs")
    assert status == 2 and "unknown option --epochs" in _assert_one_clean_error_line(err)


@pytest.fixture(scope="module")
def short_run(one_epoch_run: RunResult) -> RunResult:
    """A real one-epoch run with checkpoints (best and last hold the same weights)."""
    return one_epoch_run


def test_eval_prints_the_test_metrics_of_the_run(run_cli: RunCli, short_run: RunResult) -> None:
    last = Path(short_run.last_checkpoint)
    assert last.name == "last.ckpt" and last.is_file()
    done = run_cli("eval", f"ckpt_path={last}")
    assert done.returncode == 0, done.stderr
    assert "Test metrics of" in done.stdout
    printed = _metrics_table(done.stdout)
    saved = json.loads((short_run.run_dir / "metrics.json").read_text())
    expected = {k: ("n/a" if v is None else f"{v:.4f}") for k, v in saved.items() if k.startswith("test/")}
    assert len(expected) >= 4
    assert printed == expected


def test_eval_of_a_missing_checkpoint_is_a_clear_error(
    in_process: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    missing = tmp_path / "runs" / "nope" / "last.ckpt"
    status, _, err = in_process("eval", f"ckpt_path={missing}")
    assert status == 2
    line = _assert_one_clean_error_line(err)
    assert f"ckpt_path='{missing}' does not exist" in line
    assert "last.ckpt" in line


def test_eval_with_a_data_group_choice_scores_the_same_rows_from_a_csv(
    in_process: Callable[..., tuple[int, str, str]], short_run: RunResult, tmp_path: Path
) -> None:
    """``data=csv`` replaces the checkpoint's data group; the same table as a CSV scores the same."""
    from trainer.data.sources import SklearnSource

    table = tmp_path / "breast_cancer.csv"
    SklearnSource(name="breast_cancer").load().to_csv(table, index=False)
    last = short_run.last_checkpoint
    args = ("data=csv", f"data.source.path={table}", "data.target=target", "data.task=binary")
    status, out, err = in_process("eval", f"ckpt_path={last}", *args)
    assert status == 0, err
    saved = json.loads((short_run.run_dir / "metrics.json").read_text())
    expected = {k: ("n/a" if v is None else f"{v:.4f}") for k, v in saved.items() if k.startswith("test/")}
    assert _metrics_table(out) == expected


def test_eval_of_the_validation_split_and_a_key_of_the_saved_config(
    in_process: Callable[..., tuple[int, str, str]], short_run: RunResult
) -> None:
    last = short_run.last_checkpoint
    status, out, err = in_process("eval", f"ckpt_path={last}", "split=val", "data.eval_batch_size=7")
    assert status == 0, err
    squeezed = "".join(out.split())  # rich wraps the title to the terminal's width
    assert "".join(f"Validation metrics of {last}".split()) in squeezed
    printed = _metrics_table(out)
    assert {"val/loss", "val/accuracy"} <= set(printed) and not any(k.startswith("test/") for k in printed)


@pytest.mark.parametrize(
    ("typo", "named"),
    [
        ("trainer.max_epoch=3", "trainer.max_epoch is not a key of the checkpoint's config"),
        ("splt=val", "splt is not a key of the checkpoint's config"),
        ("data=csv data.source.paht=x.csv", "data.source.paht is not a key of 'data.source'"),
        ("data=cvs", "data=cvs is not an option of the 'data' group"),
        ("split=train", "split='train' is not a split trainer eval can score"),
    ],
)
def test_a_typo_in_an_eval_key_is_one_line_naming_it(
    in_process: Callable[..., tuple[int, str, str]], short_run: RunResult, typo: str, named: str
) -> None:
    status, out, err = in_process("eval", f"ckpt_path={short_run.last_checkpoint}", *typo.split())
    assert status == 2, out
    line = _assert_one_clean_error_line(err)
    assert named in line
    if typo.startswith("trainer."):  # the keys that are there, and the one meant
        assert "Valid keys in 'trainer':" in line and "Did you mean 'max_epochs'?" in line


def test_the_printed_eval_command_names_the_checkpoint_that_was_tested(
    in_process: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    # The test metrics come from the best checkpoint (epoch_*.ckpt), never from last.ckpt.
    status, out, err = in_process(
        "train",
        "data=breast_cancer",
        "optimizer=sgd",
        "optimizer.lr=0.05",
        "trainer.max_epochs=6",
        "callbacks.early_stopping=null",
        "logger=none",
        f"paths.runs_dir={tmp_path / 'runs'}",
    )
    assert status == 0, err
    [command] = [line.strip() for line in out.splitlines() if "Test it again: trainer eval" in line]
    tested = Path(command.split("ckpt_path=", 1)[1])
    (run_dir,) = (tmp_path / "runs").iterdir()
    [best] = (run_dir / "checkpoints").glob("epoch_*.ckpt")
    assert tested == best


def test_the_end_of_a_run_shows_the_best_epochs_validation_beside_the_tested_checkpoint(
    in_process: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    """Validation and test side by side: validation at the best epoch (the checkpoint that was
    tested), not the last one, and the line above the table says which epoch that was."""
    status, out, err = in_process(
        "train",
        "data=breast_cancer",
        "optimizer.lr=0.01",
        "trainer.max_epochs=8",
        "callbacks.early_stopping=null",
        "logger=none",
        f"paths.runs_dir={tmp_path / 'runs'}",
    )
    assert status == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    [best] = (run_dir / "checkpoints").glob("epoch_*.ckpt")
    epoch = int(best.name.split("_")[1].split("-")[0])
    ap = float(best.stem.rsplit("_", 1)[1])
    assert f"Final metrics: best epoch {epoch} of 8, val/ap = {ap:.4g}" in out
    assert f"validation: the best epoch; test: the checkpoint {best.name}" in out
    printed = _run_table(out)
    assert printed["val/ap"] == f"{ap:.4f}"
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert printed["test/ap"] == f"{saved['test/ap']:.4f}"
