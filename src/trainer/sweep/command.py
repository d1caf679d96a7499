"""The CLI's entry points: ``trainer sweep [overrides]`` and ``trainer train -m [overrides]``."""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator

from omegaconf import OmegaConf, open_dict

from trainer.errors import ConfigError
from trainer.sweep.config import compose_sweep, is_sweep_override, load_sweep
from trainer.sweep.multirun import MULTIRUN_FLAGS, multirun_study_name, split_multirun
from trainer.sweep.settings import FULL, SweepSettings, settings_from_config
from trainer.sweep.space import SearchSpace
from trainer.sweep.stages import run_sweep

#: The search space that ``trainer train -m`` composes ``sweep.yaml`` with (its own grid replaces it).
MULTIRUN_SPACE = "hparams_search=mlp"


def sweep_command(args: list[str], *, print_config: bool = False) -> int:
    """Run ``trainer sweep hparams_search=<name> [overrides]``; returns the exit code.

    Args:
        args: the overrides.
        print_config: print the composed config (``conf/sweep.yaml``: the ``trainer train``
            part, the ``sweep:`` section and the search space) and return 0, running nothing.

    Raises:
        UserError: a bad config or too many failed trials (the CLI prints the message).
    """
    if print_config:
        print(OmegaConf.to_yaml(compose_sweep(args).cfg))
        return 0
    with _continue_advice(["trainer", "sweep", *args]):
        results = run_sweep(args)
    return 0 if any(r.counts.get("COMPLETE") for r in results) else 1


@contextlib.contextmanager
def _continue_advice(command: list[str]) -> Iterator[None]:
    """On Ctrl-C, tell the CLI what to say: the study continues where it stopped when the same
    command runs again (the trial that was running is queued again). A trial's checkpoint is no
    way back in: ``trainer train ckpt_path=...`` would train outside the study."""
    try:
        yield
    except KeyboardInterrupt as exc:
        exc.advice = (  # type: ignore[attr-defined]
            "Interrupted; the trial that was running is queued again and the finished ones are kept. "
            f"To continue the study, run the same command again: {shlex.join(command)}"
        )
        raise


def multirun_command(args: list[str], *, print_config: bool = False) -> int:
    """Run ``trainer train -m a=1,2 b=x,y [overrides]`` as one grid study; returns the exit code.

    ``sweep.*`` overrides (storage, study_name, metric, pruner...) apply as in ``trainer sweep``;
    pruning is off unless asked for, as a grid means every point should run to the end, and
    every run records everything (``sweep.trial_record=full``), as each job of a Hydra multirun
    is a whole ``trainer train`` run.

    Args:
        args: the overrides (``-m``/``--multirun`` among them are ignored).
        print_config: print the composed config with the grid's ``sweep:`` settings and its
            search space, and return 0, running nothing.
    """
    args = [a for a in args if a not in MULTIRUN_FLAGS]
    sweep_args = [a for a in args if is_sweep_override(a)]
    space, fixed = split_multirun([a for a in args if not is_sweep_override(a)])
    if space is None:
        raise ConfigError(
            "trainer train -m needs at least one override with several values, e.g. optimizer=adam,nadam."
        )
    settings = _grid_settings(space, fixed, sweep_args, name=multirun_study_name(args))
    if print_config:
        _print_grid_config([*fixed, *sweep_args], settings, space)
        return 0
    print(
        f"Multirun: {settings.n_trials} runs over {', '.join(p.key for p in space.params)}.",
        file=sys.stdout,
        flush=True,
    )
    with _continue_advice(["trainer", "train", *MULTIRUN_FLAGS[:1], *args]):
        results = run_sweep([*fixed, *sweep_args], space=space, settings=settings)
    return 0 if any(r.counts.get("COMPLETE") for r in results) else 1


def _grid_settings(
    space: SearchSpace, fixed: list[str], sweep_args: list[str], *, name: str
) -> SweepSettings:
    """The composed ``sweep:`` settings turned into one grid study over ``space``."""
    loaded, _, _ = load_sweep([*fixed, *sweep_args, MULTIRUN_SPACE])
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
        section["trial_record"] = FULL
    if "study_name" in given:
        section["study_name"] = loaded.study_name
    return settings_from_config(section, default_name=name, seed=loaded.seed)


def _print_grid_config(overrides: list[str], settings: SweepSettings, space: SearchSpace) -> None:
    cfg = compose_sweep([*overrides, MULTIRUN_SPACE]).cfg
    section = settings.to_dict()
    section["metric"], section["direction"] = list(section.pop("metrics")), list(section.pop("directions"))
    with open_dict(cfg):
        cfg.sweep = section
        cfg.hparams_search = {"params": space.to_dict()}
    print(OmegaConf.to_yaml(cfg))
