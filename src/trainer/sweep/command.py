"""The CLI's entry points: ``trainer sweep [overrides]`` and ``trainer train -m [overrides]``."""

from __future__ import annotations

import sys

from trainer.errors import ConfigError
from trainer.sweep.multirun import multirun_study_name, split_multirun
from trainer.sweep.settings import settings_from_config
from trainer.sweep.stages import is_sweep_override, load_sweep, run_sweep

MULTIRUN_FLAGS = ("-m", "--multirun")


def sweep_command(args: list[str]) -> int:
    """Run ``trainer sweep hparams_search=<name> [overrides]``; returns the exit code.

    Raises:
        UserError: a bad config or too many failed trials (the CLI prints the message).
    """
    results = run_sweep(args)
    return 0 if any(r.counts.get("COMPLETE") for r in results) else 1


def multirun_command(args: list[str]) -> int:
    """Run ``trainer train -m a=1,2 b=x,y [overrides]`` as one grid study; returns the exit code.

    ``sweep.*`` overrides (storage, study_name, metric, pruner...) apply as in ``trainer sweep``;
    pruning is off unless asked for, as a grid means every point should run to the end, and
    every run records everything (``sweep.trial_record=full``), as each job of a Hydra multirun
    is a whole ``trainer train`` run.
    """
    args = [a for a in args if a not in MULTIRUN_FLAGS]
    sweep_args = [a for a in args if is_sweep_override(a)]
    space, fixed = split_multirun([a for a in args if not is_sweep_override(a)])
    if space is None:
        raise ConfigError(
            "trainer train -m needs at least one override with several values, e.g. optimizer=adam,nadam."
        )
    loaded, _, _ = load_sweep([*fixed, *sweep_args, "hparams_search=mlp"])
    size = 1
    for param in space.params:
        size *= len(param.choices)
    section = {k: v for k, v in loaded.to_dict().items() if k not in ("metrics", "directions", "study_name")}
    given = {a.split("=", 1)[0].removeprefix("sweep.") for a in sweep_args}
    section.update(
        sampler="grid", n_trials=size, metric=list(loaded.metrics), direction=list(loaded.directions)
    )
    if "pruner" not in given:
        section["pruner"] = "none"
    if "trial_record" not in given:
        section["trial_record"] = "full"
    if "study_name" in given:
        section["study_name"] = loaded.study_name
    settings = settings_from_config(section, default_name=multirun_study_name(args), seed=loaded.seed)
    print(
        f"Multirun: {size} runs over {', '.join(p.key for p in space.params)}.", file=sys.stdout, flush=True
    )
    results = run_sweep([*fixed, *sweep_args], space=space, settings=settings)
    return 0 if any(r.counts.get("COMPLETE") for r in results) else 1
