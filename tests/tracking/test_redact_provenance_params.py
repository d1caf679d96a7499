"""Unit tests of the small pure parts: redaction, provenance and param flattening."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from trainer.redact import MASK, redact, redact_tree
from trainer.tracking.params import MAX_KEY_LENGTH, MAX_VALUE_LENGTH, flatten_config
from trainer.tracking.provenance import (
    command_line,
    git_state,
    provenance_tags,
    read_versions_tag,
    versions,
    versions_tag,
)

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://user:s3cr3t@127.0.0.1:5432/nowhere", "postgresql://user:***@127.0.0.1:5432/nowhere"),
        ("mysql+pymysql://app:s3cr3t@db:3306/mlflow", "mysql+pymysql://app:***@db:3306/mlflow"),
        ("http://user:s3cr3t@127.0.0.1:5000", "http://user:***@127.0.0.1:5000"),
        ("https://:s3cr3t@host/api", "https://:***@host/api"),
        ("https://host/data.csv?token=s3cr3t&x=1", "https://host/data.csv?token=***&x=1"),
        ("s3://bucket/key?X-Amz-Secret=s3cr3t", "s3://bucket/key?X-Amz-Secret=***"),
        ("trainer train db.password=s3cr3t lr=3", "trainer train db.password=*** lr=3"),
        ("MLFLOW_TRACKING_PASSWORD=s3cr3t", "MLFLOW_TRACKING_PASSWORD=***"),
        ("AWS_SECRET_ACCESS_KEY=s3cr3t", "AWS_SECRET_ACCESS_KEY=***"),
        ("?api_key=s3cr3t&apikey=s3cr3t&pwd=s3cr3t", "?api_key=***&apikey=***&pwd=***"),
        # A generated password (base64 alphabet) with '/' and '+': SQLAlchemy accepts it raw.
        (
            "postgresql://app:Zm9v/s3cr3t+YmFy@db.internal:5432/mlflow",
            "postgresql://app:***@db.internal:5432/mlflow",
        ),
        # A percent-encoded '@' inside the password.
        ("postgresql://app:s3%40cr3t@db/mlflow", "postgresql://app:***@db/mlflow"),
    ],
)
def test_redact_masks_secrets(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert "s3cr3t" not in redact(text)


def test_redact_masks_every_occurrence_on_several_lines() -> None:
    text = (
        "tracking_uri: http://u:s3cr3t@h:5000\n"
        "source: postgresql://v:s3cr3t@db/x\n"
        "url: https://h/a?password=s3cr3t\n"
    )
    masked = redact(text)
    assert "s3cr3t" not in masked
    assert masked.count(MASK) == 3
    assert masked.splitlines()[0] == "tracking_uri: http://u:***@h:5000"  # the rest of the line stays


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///mlflow.db",
        "sqlite:////tmp/runs/mlflow.db",
        "http://127.0.0.1:5000",
        "http://user@127.0.0.1:5000/path",  # a user name is not a secret
        "postgresql://db.internal:5432/mlflow",
        "file:///home/me/data.csv",
        "someone@example.com",
        "optimizer.lr=0.001 trainer.max_epochs=3",
        "",
    ],
)
def test_redact_leaves_text_without_secrets_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_tree_masks_nested_strings_and_keeps_other_values() -> None:
    tree = {
        "logger": {"tracking_uri": "http://u:s3cr3t@h:5000", "tags": {"note": "postgresql://a:s3cr3t@b/c"}},
        "overrides": ["x=1", "y=https://h/?token=s3cr3t"],
        "pair": ("mysql://m:s3cr3t@h/d", 2),
        "lr": 0.001,
        "epochs": 3,
        "flag": None,
    }
    masked = redact_tree(tree)
    assert "s3cr3t" not in repr(masked)
    assert masked["logger"]["tracking_uri"] == "http://u:***@h:5000"
    assert masked["overrides"] == ["x=1", "y=https://h/?token=***"]
    assert isinstance(masked["pair"], tuple)
    assert masked["pair"] == ("mysql://m:***@h/d", 2)
    assert (masked["lr"], masked["epochs"], masked["flag"]) == (0.001, 3, None)
    assert tree["logger"]["tracking_uri"] == "http://u:s3cr3t@h:5000", "the input must not be changed"


def test_command_line_is_quoted_and_masked() -> None:
    argv = ["/work/main/.venv/bin/trainer", "train", "logger.tracking_uri=http://u:s3cr3t@h:5000", "a b"]
    assert command_line(argv) == "trainer train logger.tracking_uri=http://u:***@h:5000 'a b'"


# ---------------------------------------------------------------------- provenance
def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=CHECKOUT, capture_output=True, text=True, timeout=30)


def test_git_state_of_the_checkout_names_its_commit_and_dirty_flag() -> None:
    head = _git("rev-parse", "HEAD")
    if head.returncode != 0:
        pytest.skip(f"{CHECKOUT} is not a git checkout")
    state = git_state(CHECKOUT)
    assert state["git.commit"] == head.stdout.strip()
    assert len(state["git.commit"]) == 40
    # Read-only comparison: tracked files differing from HEAD (staged or not) make it dirty.
    dirty = _git("diff", "HEAD", "--quiet").returncode == 1
    assert state["git.dirty"] == str(dirty).lower()


def test_git_state_outside_a_checkout_is_empty(tmp_path: Path) -> None:
    if subprocess.run(["git", "rev-parse"], cwd=tmp_path, capture_output=True).returncode == 0:
        pytest.skip(f"{tmp_path} lies inside a git checkout")
    assert git_state(tmp_path) == {}


def test_provenance_tags_in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    head = _git("rev-parse", "HEAD")
    if head.returncode != 0:
        pytest.skip(f"{CHECKOUT} is not a git checkout")
    monkeypatch.chdir(CHECKOUT)  # provenance reads the working directory; nothing is written
    tags = provenance_tags(device="cpu", precision="32")
    assert tags["git.commit"] == tags["mlflow.source.git.commit"] == head.stdout.strip()
    assert tags["device"] == "cpu"
    assert tags["precision"] == "32"
    found = read_versions_tag(tags["versions"])
    assert found["torch"] == metadata.version("torch")
    assert found["mlflow"] == metadata.version("mlflow")
    assert not [key for key in tags if key.startswith("version.")]  # one versions tag, not eight
    assert tags["command"]
    # MLflow's "Created by" and "Source" columns.
    assert tags["mlflow.user"] and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == " ".join(tags["command"].split()[:2])


def test_versions_names_the_libraries_that_decide_the_numbers() -> None:
    found = versions()
    for package in ("python", "torch", "mlflow", "numpy", "scikit-learn", "hydra-core"):
        assert found[package], package
    assert read_versions_tag(versions_tag()) == found


# ---------------------------------------------------------------------- params
def test_flatten_config_dots_nested_keys_and_keeps_lists_whole() -> None:
    flat = flatten_config(
        {
            "optimizer": {"lr": 0.001, "betas": [0.9, 0.999]},
            "model": {"hidden_sizes": [64, 32], "norm": {"kind": "batch", "eps": 1e-5}},
            "trainer": {"max_epochs": 3},
            "empty": {},
            "seed": 42,
        }
    )
    assert flat == {
        "optimizer.lr": 0.001,
        "optimizer.betas": "[0.9, 0.999]",
        "model.hidden_sizes": "[64, 32]",
        "model.norm.kind": "batch",
        "model.norm.eps": 1e-5,
        "trainer.max_epochs": 3,
        "empty": "{}",
        "seed": 42,
    }


def test_flatten_config_cuts_long_keys_and_values_to_mlflow_limits() -> None:
    flat = flatten_config({"k" * 300: "v" * 7000})
    ((key, value),) = flat.items()
    assert len(key) == MAX_KEY_LENGTH
    assert len(value) == MAX_VALUE_LENGTH
    assert value.endswith("...")


def test_run_params_keep_what_is_tuned_and_name_classes_shortly() -> None:
    from trainer.tracking.params import run_params

    flat = {
        "seed": 1,
        "run_name": "x",
        "model._target_": "trainer.models.MLP",
        "model.dropout": 0.1,
        "optimizer._target_": "trainer.optim.optimizers.Adam",
        "callbacks.early_stopping._target_": "trainer.engine.callbacks.EarlyStopping",
        "callbacks.early_stopping.patience": 3,
        "callbacks.progress.refresh_every_n_steps": 10,
        "logger.tracking_uri": "sqlite:///mlflow.db",
        "paths.runs_dir": "runs",
    }
    assert run_params(flat) == {
        "seed": 1,
        "model": "MLP",
        "model.dropout": 0.1,
        "optimizer": "Adam",
        "callbacks.early_stopping.patience": 3,
    }
