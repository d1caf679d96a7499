"""The run folder: one per run under ``runs/``, holding config, overrides, log and checkpoints."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from trainer.redact import redact, redact_tree

NAME_MAX = 80
_SKIP_IN_NAME = ("seed=", "paths.", "run_name=", "logger", "trainer.accelerator", "ckpt_path=")


#: What a run folder's name may hold: characters that need no quoting in a POSIX shell nor in
#: a Hydra override value. The folder comes back on command lines as ``ckpt_path=runs/<name>/..``:
#: '=' is a Hydra syntax error there, ',' makes Hydra read a --multirun sweep, brackets and
#: quotes are Hydra list/string syntax and shell globs, spaces split the argument.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+\-]+")


def safe_name(text: str) -> str:
    """``text`` with each run of unsafe characters turned into one ``_`` (none at the ends).

    Example: ``hidden_sizes_[64,32]`` -> ``hidden_sizes_64_32``.
    """
    return _UNSAFE.sub("_", text).strip("_")


def readable_run_name(choices: dict[str, str], overrides: list[str]) -> str:
    """``model-optimizer-data`` plus value overrides, e.g. ``mlp-adam-breast_cancer-lr_3e-4``.

    Only ``[A-Za-z0-9_.+-]`` (see :func:`safe_name`), so that the resume command a run prints,
    ``trainer train ckpt_path=runs/<folder>/checkpoints/last.ckpt``, works pasted as printed.
    """
    if "experiment" in choices:
        parts = [choices["experiment"]]
    else:
        parts = [choices[g] for g in ("model", "optimizer", "data") if g in choices]
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if not value or "." not in key or override.startswith(_SKIP_IN_NAME):
            continue
        if any(key.startswith(skip.rstrip("=")) for skip in _SKIP_IN_NAME):
            continue
        parts.append(f"{key.rsplit('.', 1)[-1]}_{safe_name(value)}")
    name = "-".join(safe_name(part) for part in parts if safe_name(part))
    return name[:NAME_MAX].rstrip("_-.") or "run"


def make_run_dir(runs_dir: str | Path, run_name: str) -> Path:
    """A new, unique folder ``<runs_dir>/<date>_<time>_<run_name>``.

    ``run_name`` passes through :func:`safe_name` here too: a ``run_name=`` the user chose may
    hold commas or spaces just like an override.
    """
    path = unused_run_dir(runs_dir, run_name)
    path.mkdir(parents=True)
    return path


def unused_run_dir(runs_dir: str | Path, run_name: str) -> Path:
    """The path :func:`make_run_dir` would make now, not created (a sweep names a trial's folder
    before the trial starts, so that the folder can be found if its process dies)."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    base = Path(runs_dir) / f"{stamp}_{safe_name(run_name) or 'run'}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}_{n}")
    return path


def write_config_files(
    run_dir: Path, cfg: DictConfig, overrides: list[str], hydra_cfg: dict[str, Any] | None = None
) -> None:
    """``config.yaml`` (resolved) at the top, and Hydra's own layout under ``.hydra/``."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    # Every file here may become an artifact: credentials in URIs are masked first.
    (run_dir / "config.yaml").write_text(redact(OmegaConf.to_yaml(cfg, resolve=True)))
    (hydra_dir / "config.yaml").write_text(redact(OmegaConf.to_yaml(cfg, resolve=False)))
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(redact_tree(list(overrides))))
    if hydra_cfg:
        hydra_text = yaml.safe_dump({"hydra": redact_tree(hydra_cfg)}, sort_keys=False)
        (hydra_dir / "hydra.yaml").write_text(hydra_text)


class _Held(logging.Handler):
    """Keeps records in a list (see :func:`held_log_records`)."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def held_log_records(level: int = logging.INFO) -> Iterator[list[logging.LogRecord]]:
    """Keep the ``trainer`` loggers' records of the block, for a run's log file made after it.

    A command builds everything that can fail before it makes its run folder (so a mistake
    leaves none); the lines that building logs (the data's rows, a resampler's counts) still
    belong in the run's log: pass the list to :func:`log_to_file` as ``earlier``.
    """
    records: list[logging.LogRecord] = []
    with _trainer_handler(_Held(records), level):
        yield records


@contextmanager
def log_to_file(
    path: Path, level: int = logging.INFO, *, earlier: Sequence[logging.LogRecord] = ()
) -> Iterator[Path]:
    """Copy the ``trainer`` loggers' records into ``path`` for the duration of the block.

    Nested blocks on the same file add no second handler (a command that logs before its tracked
    run starts, and the tracked run itself, write each line once).

    Args:
        path: the log file (appended to).
        level: the lowest level written.
        earlier: records logged before the file could exist (:func:`held_log_records`), written first.
    """
    logger = logging.getLogger("trainer")
    target = os.path.abspath(path)
    existing = [h for h in logger.handlers if getattr(h, "baseFilename", None) == target]
    if existing:
        _write_earlier(existing[0], earlier, level)
        yield path
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _write_earlier(handler, earlier, level)
    try:
        with _trainer_handler(handler, level):
            yield path
    finally:
        handler.close()


def _write_earlier(handler: logging.Handler, records: Sequence[logging.LogRecord], level: int) -> None:
    for record in records:
        if record.levelno >= level:
            handler.handle(record)  # the file only: the console printed them when they were logged


@contextmanager
def _trainer_handler(handler: logging.Handler, level: int) -> Iterator[None]:
    """``handler`` on the ``trainer`` logger for the block, which logs at ``level`` at least meanwhile."""
    logger = logging.getLogger("trainer")
    old_level = logger.level
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
