"""``trainer gradcheck`` and ``trainer lr-find``: compose the config like ``trainer train``, then diagnose.

Options of the diagnosis itself are given like overrides under their own prefix
(``gradcheck.max_coords=0``, ``lr_find.num_steps=300``); they are taken out before the rest is
composed, so everything else means exactly what it means to ``trainer train``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, open_dict

from trainer.errors import ConfigError

if TYPE_CHECKING:
    from trainer.diagnostics.lr_find import LRFindResult

log = logging.getLogger(__name__)


@dataclass
class GradcheckOptions:
    """``gradcheck.*``: rows in the batch, coordinates per tensor (0 = all), step, sample seed."""

    batch_size: int = 16
    max_coords: int = 50
    epsilon: float = 1e-6
    seed: int = 0


@dataclass
class LRFindOptions:
    """``lr_find.*``: the range, the number of steps, the smoothing and the divergence stop."""

    min_lr: float = 1e-7
    max_lr: float = 10.0
    num_steps: int = 200
    beta: float = 0.98
    diverge_factor: float = 4.0


def split_options(args: Sequence[str], prefix: str, options: object) -> list[str]:
    """Set ``prefix.key=value`` arguments on ``options``; return the other arguments.

    Raises:
        ConfigError: an unknown key under the prefix, or a value of the wrong type.
    """
    known = {f.name: f.type for f in fields(options)}  # type: ignore[arg-type]
    rest = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.startswith(f"{prefix}."):
            rest.append(arg)
            continue
        name = key[len(prefix) + 1 :]
        if name not in known:
            raise ConfigError(
                f"{key} is not an option; choose one of {', '.join(f'{prefix}.{k}' for k in known)}."
            )
        kind = int if known[name] in (int, "int") else float
        try:
            setattr(options, name, kind(value))
        except ValueError:
            raise ConfigError(
                f"{key}={value!r} must be a{'n integer' if kind is int else ' number'}."
            ) from None
    return rest


def _compose(overrides: list[str]) -> tuple[DictConfig, list[str], dict[str, str]]:
    from trainer.config.compose import compose_config
    from trainer.config.validate import validate_config

    composed = compose_config(overrides)
    return validate_config(composed.cfg), composed.overrides, composed.choices


def gradcheck_command(args: list[str]) -> int:
    """``trainer gradcheck [overrides]``: backprop vs finite differences on the configured model.

    Returns:
        0 when every tensor reads great or look closer; 1 when one reads as a bug (above 1e-3),
        so scripts and CI can stop on it.
    """
    options = GradcheckOptions()
    overrides = split_options(args, "gradcheck", options)
    if options.batch_size < 2 or options.max_coords < 0 or options.epsilon <= 0:
        raise ConfigError(
            "gradcheck.batch_size must be 2 or more (batch norm needs two rows), gradcheck.max_coords "
            "0 (all) or more, and gradcheck.epsilon above 0."
        )
    cfg, _, _ = _compose(overrides)

    from trainer.build import build_datamodule, build_module
    from trainer.diagnostics.gradcheck import check_module, format_report
    from trainer.engine.seed import seed_everything

    seed_everything(cfg.seed)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
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


def lr_find_command(args: list[str]) -> int:
    """``trainer lr-find [overrides]``: the range test, a plot in a run folder, and the override to use.

    The run folder (``runs/<date>_<time>_lr_find-<name>``) holds ``lr_find.png`` and
    ``lr_find.csv``; both go to the configured logger (MLflow by default) with the steps' losses
    as metrics and the suggestion as a tag.

    Returns:
        0 (a failed test raises a UserError instead).
    """
    options = LRFindOptions()
    overrides = split_options(args, "lr_find", options)
    from trainer.diagnostics.lr_find import check_range, describe, lr_range_test, plot_lr_find

    # Before anything is built or a tracking run opens: a bad range leaves no empty run behind.
    check_range(min_lr=options.min_lr, max_lr=options.max_lr, num_steps=options.num_steps, beta=options.beta)
    cfg, overrides, choices = _compose(overrides)

    from trainer.build import build_datamodule, build_logger, build_module
    from trainer.engine.device import resolve_device
    from trainer.engine.seed import seed_everything
    from trainer.run_dir import make_run_dir, readable_run_name, write_config_files
    from trainer.tracking.params import flatten_config

    seed_everything(cfg.seed)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
    run_name = f"lr_find-{cfg.run_name or readable_run_name(choices, overrides)}"
    run_dir = Path(cfg.paths.run_dir) if cfg.paths.run_dir else make_run_dir(cfg.paths.runs_dir, run_name)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):  # the logger's folder (csv logger: ${paths.run_dir}) is this one
        cfg.paths.run_dir = str(run_dir)
        cfg.run_name = run_name
    write_config_files(run_dir, cfg, overrides)
    logger = build_logger(cfg)
    logger.start(run_name=run_name, run_dir=run_dir)
    status = "FAILED"
    try:
        logger.set_tags({"command": "lr-find", "run_dir": str(run_dir)})
        settings = {f"lr_find.{f.name}": getattr(options, f.name) for f in fields(options)}
        logger.log_hyperparams({**flatten_config(_plain(cfg)), **settings})
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
        status = "FINISHED"
    finally:
        logger.finalize(status)
    _print_result(result, found, run_dir, overrides, logger.location_lines())
    return 0


def _plain(cfg: DictConfig) -> dict[str, Any]:
    from omegaconf import OmegaConf

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
        print(f"  {line}")
