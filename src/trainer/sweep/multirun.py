"""``trainer train -m optimizer=adam,nadam optimizer.lr=1e-3,3e-4``: Hydra's sweep syntax run as
one grid study through the sweep runner (same parent and child runs, same report)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser

from trainer.config.compose import group_options
from trainer.config.override_syntax import explain_unparsable
from trainer.errors import ConfigError
from trainer.sweep.space import Param, SearchSpace

#: The flags of ``trainer train`` that make it a multirun (one grid study) instead of one run.
MULTIRUN_FLAGS = ("-m", "--multirun")


def split_multirun(overrides: Sequence[str]) -> tuple[SearchSpace | None, list[str]]:
    """Split overrides into a grid space (the ``a=1,2`` ones) and the fixed rest.

    Returns:
        ``(space, fixed)``; ``space`` is None when no override sweeps.

    Raises:
        ConfigError: an override Hydra cannot parse, or a range/interval sweep (list the values instead).
    """
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(list(overrides))
    except Exception as exc:
        explained = explain_unparsable(overrides)  # the way to write it, as trainer train says
        if explained:
            raise ConfigError(explained) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Could not parse the overrides {list(overrides)}: {first}.") from None
    groups = set(group_options())
    params: list[Param] = []
    fixed: list[str] = []
    for text, override in zip(overrides, parsed, strict=True):
        if not override.is_sweep_override():
            fixed.append(text)
            continue
        if not override.is_discrete_sweep():
            raise ConfigError(
                f"{text}: only lists of values sweep here (a=1,2,3); interval and range sweeps do not."
            )
        key = override.get_key_element()
        values = list(override.sweep_string_iterator())
        kind = "group" if key in groups else "categorical"
        params.append(
            Param(key=key, kind=kind, choices=tuple(values), raw=kind == "categorical", written=text)
        )
    if not params:
        return None, fixed
    return SearchSpace(params=tuple(params)), fixed


def multirun_study_name(overrides: Sequence[str]) -> str:
    """A stable name for the same command line, so that re-running it resumes the grid."""
    digest = hashlib.sha1(" ".join(overrides).encode()).hexdigest()[:8]
    return f"multirun_{digest}"
