"""``trainer --help`` (every command and config group) and ``trainer <command> --help`` (its keys).

Hydra and the config package are imported inside the functions: ``trainer.cli`` imports this
module before it guards against Ctrl-C, and importing ``trainer.config`` loads torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trainer.commands.command import Command

OPTIONS = """\
options:
  --cfg     print the composed config and exit (every command)
  -h        this message; trainer <command> --help lists that command's keys and defaults"""

EXAMPLES = """\
examples:
  trainer train model=mlp optimizer=adam optimizer.lr=3e-4 trainer.max_epochs=20
  trainer train experiment=digits_mlp model.dropout=0.2
  trainer train data=csv data.source.path=claims.csv data.target=is_fraud
  trainer train logger.tracking_uri=http://127.0.0.1:5000 logger.experiment_name=claims
  trainer sweep hparams_search=mlp data=digits trainer.max_epochs=20 sweep.n_trials=50
  trainer train -m optimizer=adam,nadam optimizer.lr=1e-3,3e-4
  trainer eval ckpt_path=runs/<run>/checkpoints/last.ckpt data=csv data.source.path=new.csv
"""


def usage(commands: Sequence[Command]) -> str:
    """The overview: every command with its summary, the options, and examples."""
    lines = ["usage: trainer <command> [key=value ...] [--cfg] [--help]", "", "commands:"]
    for command in commands:
        lines.append(f"  {command.name:<9} {command.summary}")
        lines.extend(f"            {note}" for note in command.notes)
    lines.append(f"  {'help':<9} this message")
    return "\n".join([*lines, "", OPTIONS, "", EXAMPLES])


def overview(commands: Sequence[Command]) -> str:
    """``trainer --help``: :func:`usage` and every config group with its options."""
    from trainer.config.compose import conf_dir, group_options

    lines = [usage(commands), f"config groups (from {conf_dir()}; pick one with group=option):"]
    for group, options in group_options().items():
        lines.append(f"  {group:<12} {', '.join(options)}")
    return "\n".join(lines)


def command_help(command: Command) -> str:
    """``trainer <command> --help``: the summary, the command's own keys with their defaults, its groups.

    Read from the command's primary config as composed with no overrides, so it says what the
    conf files say.
    """
    from omegaconf import OmegaConf

    from trainer.config.compose import compose_config, group_options

    composed = compose_config([], config_name=command.config_name)
    choices: dict[str, Any] = composed.hydra["runtime"]["choices"]
    groups = {str(k): v for k, v in choices.items() if not str(k).startswith("hydra/")}
    tree: dict[str, Any] = OmegaConf.to_container(composed.cfg, resolve=False)  # type: ignore[assignment]
    if command.section is None:
        own = {k: v for k, v in tree.items() if k not in groups}
        title = f"keys of conf/{command.config_name}.yaml (key=value; defaults shown)"
    else:
        own = {command.section: tree[command.section]}
        title = f"keys of its section '{command.section}' (key=value; defaults shown)"
    lines = [
        f"usage: trainer {command.name} [key=value ...] [--cfg] [--help]",
        "",
        f"{command.summary}",
        *(f"  {note}" for note in command.notes),
        "",
        f"{title}:",
        *(f"  {key} = {_show(value)}" for key, value in _flatten(own)),
    ]
    if groups:
        options = group_options()
        lines += ["", "config groups (group=option; the default in brackets):"]
        for group, choice in sorted(groups.items()):
            default = "none" if choice is None else choice
            lines.append(f"  {group:<14} [{default}]  {', '.join(options.get(group, []))}")
        lines += ["", f"The keys of the groups apply too: trainer {command.name} --cfg prints them all."]
    return "\n".join(lines)


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``[("sweep.n_trials", 20), ...]``; an empty mapping stays one entry (``sampler_options = {}``)."""
    rows: list[tuple[str, Any]] = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def _show(value: Any) -> str:
    """A value as it is written on the command line (null, true, [a, b])."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)
