"""What makes a study one question: its search space, its data and every fixed override of
what the trials train. A study is named from them by default, and a command whose fixed
overrides differ from the study's is refused: its trials would mix two questions in one ranking
(two datasets' val/loss sorted together), and the sampler would learn from both."""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from trainer.errors import ConfigError

#: Overrides that say where or how trials are recorded, shown or placed, not what they train:
#: a rerun on another machine, with another runs folder or tracking server, asks the same question.
NOT_DEFINING = ("logger", "paths", "callbacks.progress", "trainer.accelerator", "trainer.devices", "hydra")
#: The study attribute that holds the overrides its trials were run with.
BASE_ATTR = "base_overrides"


def default_study_name(space: str, data: str | None) -> str:
    """``<space>-<data>`` (``mlp-digits``): the same space on other data is another study."""
    return f"{space}-{data}" if data else space


def defining_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that change what a trial trains, in a canonical order."""
    kept = []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.split("@", 1)[0] in NOT_DEFINING or key.startswith(tuple(f"{p}." for p in NOT_DEFINING)):
            continue
        kept.append(override)
    return sorted(kept)


def require_same_question(study: optuna.Study, base_overrides: Sequence[str], *, storage: str) -> None:
    """Refuse to continue ``study`` with fixed overrides other than those its trials had.

    Raises:
        ConfigError: naming both sets of overrides and the two ways on.
    """
    stored = study.user_attrs.get(BASE_ATTR)
    if stored is None:  # a study made by another tool, or before this check existed
        return
    before, now = defining_overrides(stored), defining_overrides(base_overrides)
    if before == now:
        return
    added = [o for o in now if o not in before]
    dropped = [o for o in before if o not in now]
    change = "; ".join(
        part
        for part in (
            f"this command adds {' '.join(added)}" if added else "",
            f"it lacks {' '.join(dropped)}" if dropped else "",
        )
        if part
    )
    raise ConfigError(
        f"Study {study.study_name} in {storage} was run with other fixed overrides ({change}): "
        "continuing it would rank two questions together. Run it with the same overrides, or "
        f"start a new study with sweep.study_name=<new name>."
    )
