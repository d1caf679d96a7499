"""``trainer gradcheck`` and ``trainer lr-find``: compose their own config, then diagnose.

``conf/gradcheck.yaml`` and ``conf/lr_find.yaml`` are ``train.yaml`` plus a section of the
diagnosis' own options (``gradcheck.max_coords=0``, ``lr_find.num_steps=300``), the one source of
their defaults; the section is taken out after composing, so everything else means exactly what
it means to ``trainer train``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from omegaconf import DictConfig, OmegaConf, open_dict

from trainer.config.compose import ComposedConfig, compose_config
from trainer.errors import ConfigError

if TYPE_CHECKING:
    from trainer.diagnostics.lr_find import LRFindResult

log = logging.getLogger(__name__)

Options = TypeVar("Options")


@dataclass
class GradcheckOptions:
    """``gradcheck.*`` (defaults in ``conf/gradcheck.yaml``): batch rows, coordinates, step, seed."""

    batch_size: int
    max_coords: int
    epsilon: float
    seed: int


@dataclass
class LRFindOptions:
    """``lr_find.*`` (defaults in ``conf/lr_find.yaml``): range, steps, smoothing, divergence stop."""

    min_lr: float
    max_lr: float
    num_steps: int
    beta: float
    diverge_factor: float


def take_options(composed: ComposedConfig, section: str, kind: type[Options]) -> Options:
    """Remove ``section`` from the composed config and return it as ``kind``.

    Hydra already refused a key the section lacks (naming the valid ones); here each value is
    checked to be a number of its field's type.

    Raises:
        ConfigError: a value that is not a number of the right kind.
    """
    with open_dict(composed.cfg):
        node = composed.cfg.pop(section)
    values: dict[str, Any] = OmegaConf.to_container(node, resolve=True)  # type: ignore[assignment]
    typed = {}
    for spec in fields(kind):  # type: ignore[arg-type]
        value = values[spec.name]
        integer = spec.type in (int, "int")
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            raise ConfigError(
                f"{section}.{spec.name}={value!r} must be a{'n integer' if integer else ' number'}."
            )
        typed[spec.name] = value if integer else float(value)
    return kind(**typed)


def _own_overrides(overrides: list[str], section: str) -> list[str]:
    """The overrides ``trainer train`` would understand: those outside the command's section."""
    return [o for o in overrides if not o.lstrip("+~").startswith(f"{section}.")]


def _validated(composed: ComposedConfig) -> DictConfig:
    from trainer.config.validate import validate_config

    return validate_config(composed.cfg)


def gradcheck_command(args: list[str], *, print_config: bool = False) -> int:
    """``trainer gradcheck [overrides]``: backprop vs finite differences on the configured model.

    Args:
        args: Hydra overrides of ``conf/gradcheck.yaml``.
        print_config: print the composed config and stop.

    Returns:
        0 when every tensor reads great or look closer; 1 when one reads as a bug (above 1e-3),
        so scripts and CI can stop on it.
    """
    composed = compose_config(args, config_name="gradcheck")
    if print_config:
        print(OmegaConf.to_yaml(composed.cfg))
        return 0
    options = take_options(composed, "gradcheck", GradcheckOptions)
    if options.batch_size < 2 or options.max_coords < 0 or options.epsilon <= 0:
        raise ConfigError(
            "gradcheck.batch_size must be 2 or more (batch norm needs two rows), gradcheck.max_coords "
            "0 (all) or more, and gradcheck.epsilon above 0."
        )
    cfg = _validated(composed)

    from trainer.build import build_data_and_module
    from trainer.diagnostics.gradcheck import check_module, format_report

    datamodule, module = build_data_and_module(cfg)
    x, y = datamodule.tensors("train")
    rows = min(options.batch_size, len(x))
    result = check_module(
        module,
        (x[:rows], y[:rows]),
        epsilon=options.epsilon,
        max_coords=options.max_coords,
        seed=options.seed,
    )
    print(format_report(result))
    if result.bug:
        print("\nA bug: some backward pass disagrees with the loss it differentiates (see the rows above).")
        return 1
    return 0


def lr_find_command(args: list[str], *, print_config: bool = False) -> int:
    """``trainer lr-find [overrides]``: the range test, a plot in a run folder, and the override to use.

    The run folder (``runs/<date>_<time>_lr_find-<name>``) holds ``lr_find.png`` and
    ``lr_find.csv``; both go to the configured logger (MLflow by default) with the steps' losses
    as metrics and the suggestion as a tag. The run ends FINISHED, KILLED on Ctrl-C, or FAILED
    with an ``error`` tag (:func:`trainer.tracked_run.tracked_run`).

    Args:
        args: Hydra overrides of ``conf/lr_find.yaml``.
        print_config: print the composed config and stop.

    Returns:
        0 (a failed test raises a UserError instead).
    """
    composed = compose_config(args, config_name="lr_find")
    if print_config:
        print(OmegaConf.to_yaml(composed.cfg))
        return 0
    options = take_options(composed, "lr_find", LRFindOptions)
    overrides = _own_overrides(composed.overrides, "lr_find")
    from trainer.diagnostics.lr_find import check_range, describe, lr_range_test, plot_lr_find

    # Before anything is built or a tracking run opens: a bad range leaves no empty run behind.
    check_range(min_lr=options.min_lr, max_lr=options.max_lr, num_steps=options.num_steps, beta=options.beta)
    cfg = _validated(composed)

    from trainer.build import build_data_and_module, build_logger
    from trainer.engine.device import resolve_device
    from trainer.run_dir import readable_run_name
    from trainer.tracked_run import RunFolder, tracked_run
    from trainer.tracking.params import flatten_config, run_params

    datamodule, module = build_data_and_module(cfg)
    run_name = f"lr_find-{cfg.run_name or readable_run_name(composed.choices, overrides)}"
    folder = RunFolder.open(chosen=cfg.paths.run_dir, runs_dir=cfg.paths.runs_dir, run_name=run_name)
    with open_dict(cfg):  # the logger's folder (csv logger: ${paths.run_dir}) is this one
        cfg.paths.run_dir = str(folder.path)
        cfg.run_name = run_name
    folder.write_config(cfg, overrides)
    run_dir = folder.path
    with tracked_run(build_logger(cfg), folder=folder, run_name=run_name) as run:
        logger = run.logger
        logger.set_tags({"command": "lr-find", "run_dir": str(run_dir)})
        settings = {f"lr_find.{f.name}": getattr(options, f.name) for f in fields(options)}
        logger.log_hyperparams({**run_params(flatten_config(_plain(cfg))), **settings})
        clip = cfg.trainer.gradient_clip_val if cfg.trainer.gradient_clip_algorithm == "norm" else 0.0
        result = lr_range_test(
            module,
            datamodule.train_dataloader(),
            min_lr=options.min_lr,
            max_lr=options.max_lr,
            num_steps=options.num_steps,
            beta=options.beta,
            diverge_factor=options.diverge_factor,
            clip_norm=float(clip),
            device=resolve_device(cfg.trainer.accelerator),
        )
        rows = list(zip(result.lrs, result.losses, result.smoothed, strict=True))
        for step, (lr, loss, smooth) in enumerate(rows):
            logger.log_metrics(
                {"lr_find/lr": lr, "lr_find/loss": loss, "lr_find/smoothed_loss": smooth}, step=step
            )
        table = run_dir / "lr_find.csv"
        lines = [f"{i},{lr:.6g},{loss:.6g},{smooth:.6g}\n" for i, (lr, loss, smooth) in enumerate(rows)]
        table.write_text("step,lr,loss,smoothed_loss\n" + "".join(lines))
        plot = plot_lr_find(result, run_dir / "lr_find.png")
        logger.log_artifact(plot, artifact_path="figures")
        logger.log_artifact(table)
        logger.log_artifact(run_dir / "config.yaml")
        found = describe(result)
        logger.set_tags({f"lr_find.{k}": str(v) for k, v in found.items()})
    _print_result(result, found, run_dir, overrides, run.where_lines())
    return 0


def _plain(cfg: DictConfig) -> dict[str, Any]:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    return {str(k): v for k, v in resolved.items()}


def _print_result(
    result: LRFindResult, found: dict[str, Any], run_dir: Path, overrides: list[str], where: list[str]
) -> None:
    if not math.isfinite(result.suggestion):
        print("The range test took no step with a finite loss; check the data and the model.")
        return
    steepest = f", steepest fall at {result.steepest_lr:.2g}" if result.steepest_lr else ""
    print(
        f"LR range test: {found['steps']} steps ({result.stopped}); lowest smoothed loss at "
        f"lr={result.min_loss_lr:.2g}{steepest}."
    )
    if result.still_falling:
        print("The loss was still falling at the largest rate tried: raise lr_find.max_lr to see the turn.")
    kept = " ".join(o for o in overrides if not o.startswith(("optimizer.lr=", "paths.run_dir=")))
    print(f"Suggested: optimizer.lr={result.suggestion:.2g}")
    print(f"  trainer train {kept + ' ' if kept else ''}optimizer.lr={result.suggestion:.2g}")
    print(f"Plot: {run_dir / 'lr_find.png'}")
    for line in where:
        print(line)
