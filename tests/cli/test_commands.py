"""One grammar for every command: ``--help`` shows its own keys and defaults, ``--cfg`` its config.

Each command composes its own primary config (``conf/<name>.yaml``); these tests read the conf
files themselves as the expected values, and run in this process (composing only, no training).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainer.cli import COMMANDS, main

from .conftest import CONF

InProcess = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InProcess]:
    """``cli(*args)``: ``trainer.cli.main(args)`` from tmp_path -> (status, stdout, stderr)."""
    import logging

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRAINER_CONF_DIR", str(CONF))
    level = logging.getLogger("trainer").level

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    yield run
    logging.getLogger("trainer").setLevel(level)  # main() sets up console logging


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            rows.update(_flat(value, f"{prefix}{key}."))
        else:
            rows[f"{prefix}{key}"] = value
    return rows


def _written(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_written(v) for v in value) + "]"
    return "{}" if value == {} else str(value)


# command -> (its conf file, the part of the file that is its own, groups and their defaults)
OWN_KEYS = {
    "train": ("train", None, {"data": "breast_cancer", "model": "mlp", "logger": "mlflow"}),
    "sweep": ("sweep", "sweep", {"hparams_search": "mlp", "data": "breast_cancer"}),
    "fraud": ("fraud", "fraud", {"data": "fraud_claims", "model": "tabular_embedding"}),
    "gradcheck": ("gradcheck", "gradcheck", {"data": "breast_cancer", "model": "mlp"}),
    "lr-find": ("lr_find", "lr_find", {"data": "breast_cancer", "optimizer": "adam"}),
    "eval": ("eval", None, {"data": "none", "model": "none"}),
    "upload": ("upload", None, {}),
}


def test_the_table_names_every_command_once() -> None:
    assert [c.name for c in COMMANDS] == list(OWN_KEYS)
    assert all((CONF / f"{c.config_name}.yaml").is_file() for c in COMMANDS)


@pytest.mark.parametrize("command", list(OWN_KEYS))
def test_help_of_a_command_lists_its_own_keys_with_their_defaults(cli: InProcess, command: str) -> None:
    conf_name, section, groups = OWN_KEYS[command]
    status, out, err = cli(command, "--help")
    assert status == 0, err
    assert out.startswith(f"usage: trainer {command} ")
    conf = yaml.safe_load((CONF / f"{conf_name}.yaml").read_text())
    own = {section: conf[section]} if section else {k: v for k, v in conf.items() if k != "defaults"}
    expected = _flat(own)
    assert len(expected) >= 2
    for key, value in expected.items():
        assert f"\n  {key} = {_written(value)}\n" in f"{out}\n", f"{key} = {value!r} missing:\n{out}"
    printed = {line.split(" = ")[0].strip() for line in out.splitlines() if " = " in line}
    assert printed == set(expected)  # its own keys only: the groups' keys are listed by --cfg
    for group, default in groups.items():
        assert any(line.split()[:2] == [group, f"[{default}]"] for line in out.splitlines()), group
    if not groups:
        assert "config groups" not in out


def test_help_of_train_names_its_grid_mode_and_options_of_each_group(cli: InProcess) -> None:
    status, out, _ = cli("train", "-h")
    assert status == 0
    assert "-m / --multirun" in out
    (optimizers,) = [line for line in out.splitlines() if line.split()[:1] == ["optimizer"]]
    assert "sgd" in optimizers and "nadam" in optimizers


def _cfg(cli: InProcess, tmp_path: Path, *args: str) -> dict[str, Any]:
    status, out, err = cli(*args, "--cfg")
    assert status == 0, err
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing was written
    printed = yaml.safe_load(out)
    assert isinstance(printed, dict) and "hydra" not in printed
    return printed


def test_cfg_of_eval_shows_its_keys_and_the_groups_chosen(cli: InProcess, tmp_path: Path) -> None:
    printed = _cfg(cli, tmp_path, "eval", "ckpt_path=runs/a/last.ckpt", "split=val", "data=csv")
    assert printed["ckpt_path"] == "runs/a/last.ckpt" and printed["split"] == "val"
    assert printed["data"]["_target_"] == "trainer.data.TabularDataModule"
    assert printed["data"]["source"]["_target_"] == "trainer.data.CsvSource"
    assert "model" not in printed  # not chosen: the checkpoint's own stays


def test_cfg_of_upload_takes_the_folder_positionally_or_as_run_dir(cli: InProcess, tmp_path: Path) -> None:
    uri = "sqlite:///other.db"
    printed = _cfg(cli, tmp_path, "upload", "runs/a", f"logger.tracking_uri={uri}")
    assert printed == {"run_dir": "runs/a", "logger": {"tracking_uri": uri}}
    assert _cfg(cli, tmp_path, "upload", "run_dir=runs/b")["run_dir"] == "runs/b"


@pytest.mark.parametrize(
    ("command", "override", "path", "value"),
    [
        ("gradcheck", "gradcheck.max_coords=3", ("gradcheck", "max_coords"), 3),
        ("lr-find", "lr_find.num_steps=300", ("lr_find", "num_steps"), 300),
        ("fraud", "fraud.ensemble=2", ("fraud", "ensemble"), 2),
        ("sweep", "sweep.n_trials=3", ("sweep", "n_trials"), 3),
        ("train", "trainer.max_epochs=4", ("trainer", "max_epochs"), 4),
    ],
)
def test_cfg_prints_the_composed_config_and_stops(
    cli: InProcess, tmp_path: Path, command: str, override: str, path: tuple[str, str], value: int
) -> None:
    printed = _cfg(cli, tmp_path, command, override, "optimizer=sgd")
    assert printed[path[0]][path[1]] == value
    assert printed["optimizer"]["_target_"] == "trainer.optim.optimizers.SGD"  # a group choice too


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "-m", "ckpt_path=x.ckpt"), "unknown option -m"),
        (("upload", "runs/a", "run_dir=runs/b"), "trainer upload takes one run folder"),
        (("upload",), "trainer upload needs one run folder"),
        (("upload", "run_dir=nowhere"), "nowhere has no tracking_journal.jsonl"),
        (("gradcheck", "gradcheck.coords=3"), "gradcheck.coords is not a key of 'gradcheck'"),
        (("lr-find", "lr_find.num_steps=abc"), "lr_find.num_steps='abc' must be an integer"),
        (("train", "-m", "--cfg", "optimizer=adam,sgd"), "leave out -m"),
    ],
)
def test_user_errors_exit_2_with_one_line(cli: InProcess, args: tuple[str, ...], message: str) -> None:
    status, out, err = cli(*args)
    assert status == 2, (out, err)
    (line,) = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("error: ") and message in line
