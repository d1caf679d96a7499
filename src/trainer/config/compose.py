"""Compose ``conf/`` with command-line overrides through Hydra's compose API.

We use the compose API rather than ``@hydra.main`` so that the CLI has subcommands, the
working directory never changes, and a sweep can compose a hundred trial configs in one
process. Hydra's errors are turned into one line that names the bad value and the fix.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from trainer.config.override_syntax import explain_unparsable, is_parse_error
from trainer.errors import ConfigError

ENV_CONF_DIR = "TRAINER_CONF_DIR"


def conf_dir() -> Path:
    """The ``conf/`` folder: ``$TRAINER_CONF_DIR``, else the checkout's, else ``./conf``."""
    if ENV_CONF_DIR in os.environ:
        return Path(os.environ[ENV_CONF_DIR]).resolve()
    checkout = Path(__file__).resolve().parents[3] / "conf"
    if checkout.is_dir():
        return checkout
    return (Path.cwd() / "conf").resolve()


def group_options(root: Path | None = None) -> dict[str, list[str]]:
    """Every config group under ``conf/`` and its options (file names without ``.yaml``)."""
    base = root or conf_dir()
    groups: dict[str, list[str]] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            groups[folder.name] = options
    return groups


@dataclass
class ComposedConfig:
    """A composed config plus what Hydra knows about how it was made."""

    cfg: DictConfig
    overrides: list[str]
    choices: dict[str, str] = field(default_factory=dict)
    hydra: dict[str, Any] = field(default_factory=dict)


def compose_config(overrides: Sequence[str] = (), *, config_name: str = "train") -> ComposedConfig:
    """Compose ``conf/<config_name>.yaml`` with Hydra overrides (``key=value``, ``group=option``).

    Raises:
        ConfigError: a typo in a key, an unknown group option, or a malformed override.
    """
    overrides = list(overrides)
    root = conf_dir()
    if not (root / f"{config_name}.yaml").is_file():
        raise ConfigError(
            f"No {config_name}.yaml in {root}; run from the project folder or set {ENV_CONF_DIR}."
        )
    try:
        with initialize_config_dir(config_dir=str(root), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_explain(exc, overrides, root, config_name)) from None
    with open_dict(cfg):
        hydra_node = cfg.pop("hydra")
    runtime_choices: dict[str, Any] = OmegaConf.to_container(hydra_node.runtime.choices)  # type: ignore[assignment]
    choices = {
        str(k): str(v)
        for k, v in runtime_choices.items()
        if not str(k).startswith("hydra/") and v is not None
    }
    hydra_dict: dict[str, Any] = OmegaConf.to_container(hydra_node, resolve=False)  # type: ignore[assignment]
    return ComposedConfig(cfg=cfg, overrides=overrides, choices=choices, hydra=hydra_dict)


# ---------------------------------------------------------------------- error messages
def _close(word: str, options: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def _explain(exc: Exception, overrides: list[str], root: Path, config_name: str) -> str:
    text = str(exc)
    missing_option = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if missing_option:
        group, option = missing_option.group(1), missing_option.group(2)
        options = group_options(root).get(group.split("/")[-1], [])
        return (
            f"{group}={option} is not an option of the '{group}' group; choose one of "
            f"{', '.join(options)}.{_close(option, options)}"
        )
    bad_key = re.search(r"Could not (?:override|append to|delete from) '([^']+)'", text)
    if bad_key:
        return _explain_key(bad_key.group(1), overrides, config_name, text)
    if is_parse_error(text):
        explained = explain_unparsable(overrides)
        if explained:
            return explained
        return (
            f"Could not parse the overrides {overrides}: {text.splitlines()[0]}. "
            "Write each as key=value (lists as key=[a,b], strings with spaces in quotes)."
        )
    if isinstance(exc, ConfigCompositionException) and exc.__cause__ is not None:
        text = f"{text} ({exc.__cause__})"
    return f"The config could not be composed: {' '.join(text.split())}"


def _explain_key(key: str, overrides: list[str], config_name: str, text: str) -> str:
    """Name the unknown key and list the keys that exist where it was meant to go."""
    clean = [o for o in overrides if not o.split("=", 1)[0].lstrip("+~").startswith(key)]
    valid: list[str] = []
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            base = compose(config_name=config_name, overrides=clean)
        # Walk to the first missing part: after callbacks=none, callbacks.early_stopping.patience=3
        # is wrong at early_stopping, and the keys of 'callbacks' are the ones that help.
        node: Any = base
        parts = key.split(".")
        for index, part in enumerate(parts[:-1]):
            if not isinstance(node, DictConfig) or part not in node:
                key = ".".join(parts[: index + 1])
                break
            node = node[part]
        if isinstance(node, DictConfig):
            valid = [str(k) for k in node.keys()]
        empty_group = not node and key.rpartition(".")[0] in group_options(conf_dir())
    except (HydraException, OmegaConfBaseException, ValueError):
        # The other overrides may be broken too (a second unknown key, a bad option): what
        # compose_config itself turns into a ConfigError. The message still names the key,
        # without the listing; anything else is a bug here and is raised.
        empty_group = False
    parent, _, leaf = key.rpartition(".")
    if empty_group:  # e.g. scheduler.max_lr=0.1 while scheduler=none
        options = ", ".join(group_options(conf_dir())[parent])
        return f"{key} cannot be set: '{parent}' is empty here. Pick one with {parent}=<option> ({options})."
    where = f"'{parent}'" if parent else "the root config"
    listing = f" Valid keys in {where}: {', '.join(valid)}." if valid else ""
    if "Key" in text and "not in struct" not in text and valid and leaf in valid:
        return f"Could not set {key}: {' '.join(text.split())}"
    return f"{key} is not a key of {where}.{listing}{_close(leaf, valid)}"
