"""Run folder names need no quoting: the resume command a run prints works pasted as printed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from trainer.config import compose_config
from trainer.run_dir import make_run_dir, readable_run_name

SAFE = re.compile(r"[A-Za-z0-9_.+\-]+")

OVERRIDE_SETS = [
    ["model.hidden_sizes=[64,32]"],
    ["model.hidden_sizes=[64,32]", "optimizer.betas=[0.8,0.99]", "optimizer.lr=3e-4"],
    ["model=mlp", "model.activation=leaky_relu", "trainer.max_epochs=3", "model.dropout=0.1"],
    ["model.hidden_sizes=[]", "optimizer.eps=1e-7"],
]


@pytest.mark.parametrize("overrides", OVERRIDE_SETS, ids=lambda o: " ".join(o))
def test_the_printed_resume_command_composes_as_pasted(tmp_path: Path, overrides: list[str]) -> None:
    composed = compose_config(overrides)
    name = readable_run_name(composed.choices, composed.overrides)
    assert SAFE.fullmatch(name), name
    run_dir = make_run_dir(tmp_path / "runs", name)
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    printed = f"trainer train ckpt_path={checkpoint}"
    # A POSIX shell hands the program the argument unchanged (nothing to quote, glob or split)...
    argv = shlex.split(printed)
    assert argv == ["trainer", "train", f"ckpt_path={checkpoint}"]
    assert shlex.quote(argv[2]) == argv[2]
    # ...and Hydra reads it as one plain string: no '=' error, no '--multirun' for a comma.
    resumed = compose_config([*overrides, argv[2]])
    assert resumed.cfg.ckpt_path == str(checkpoint)


def test_a_list_override_reads_well_in_the_name() -> None:
    name = readable_run_name({"model": "mlp", "optimizer": "adam"}, ["model.hidden_sizes=[64,32]"])
    assert name == "mlp-adam-hidden_sizes_64_32"


def test_quotes_spaces_and_equals_are_gone() -> None:
    name = readable_run_name({}, ["+data.note='a b=c'", 'model.activation="gelu"', "model.init={a:1}"])
    assert SAFE.fullmatch(name), name
    assert name == "note_a_b_c-activation_gelu-init_a_1"


def test_a_user_run_name_is_made_safe_for_the_folder(tmp_path: Path) -> None:
    from trainer.run_dir import safe_name

    run_dir = make_run_dir(tmp_path, "my run, v2 [final]")
    assert run_dir.name.endswith("_my_run_v2_final")
    assert safe_name("[,]") == ""
    assert make_run_dir(tmp_path, "[,]").name.endswith("_run")
