"""Score a saved checkpoint with the config stored inside it, changed by the user's overrides.

``trainer eval`` composes ``conf/eval.yaml`` through the same compose function as every command,
so a group choice (``data=csv``) means what it means to ``trainer train``. What the user set is
then laid onto the checkpoint's own config: a chosen group replaces that whole group, a key sets
that key, and a key the saved config lacks is a ConfigError naming it.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from trainer.build import build_data_and_module, build_trainer
from trainer.config.compose import ComposedConfig, compose_config, group_options
from trainer.config.validate import validate_config
from trainer.engine.checkpoint import check_checkpoint_fits, load_checkpoint, override_value
from trainer.errors import ConfigError, UserError

log = logging.getLogger(__name__)

#: The keys of ``conf/eval.yaml`` itself; every other key is one of the checkpoint's config.
EVAL_KEYS = ("ckpt_path", "split")
#: The splits ``trainer eval`` can score.
SPLITS = ("test", "val")


def compose_eval(overrides: Sequence[str] = ()) -> ComposedConfig:
    """``conf/eval.yaml`` composed with Hydra overrides: its own keys plus what the user set.

    A key outside eval's own keys and the groups chosen on the same line (``trainer.accelerator=cpu``)
    is added as it is (Hydra's ``++``): whether it exists is for the checkpoint's config to say,
    in :func:`checkpoint_config`. A key under a chosen group (``data=csv data.source.paht=x``) is
    checked by Hydra against that group's file.

    Raises:
        ConfigError: a malformed override, an unknown group option, or a typo under a chosen group.
    """
    groups = set(group_options())
    keys = [o.partition("=")[0] for o in overrides]
    chosen = {k for k in keys if k in groups}
    forced = []
    for override, key in zip(overrides, keys, strict=True):
        own = key in EVAL_KEYS or key in groups or key.split(".", 1)[0] in chosen
        prefixed = key.startswith(("+", "~"))  # the user asked for Hydra's own add or delete
        forced.append(override if own or prefixed or "=" not in override else f"++{override}")
    return compose_config(forced, config_name="eval")


def checkpoint_config(ckpt_path: str | Path, overrides: Sequence[str] | ComposedConfig = ()) -> DictConfig:
    """The resolved config saved in a checkpoint, with the user's overrides laid onto it.

    Args:
        ckpt_path: the checkpoint.
        overrides: Hydra overrides (``data=csv data.source.path=new.csv``, ``trainer.accelerator=cpu``),
            or their composition by :func:`compose_eval`. The model's shape must stay as trained.

    Raises:
        UserError: the checkpoint holds no config.
        ConfigError: an override names a key the saved config lacks, or would change the network
            (another model, or another value of a model setting).
    """
    state = load_checkpoint(ckpt_path)
    if not state["config"]:
        raise UserError(f"ckpt_path={str(ckpt_path)!r} holds no config; it cannot be evaluated alone.")
    cfg = OmegaConf.create(state["config"])
    OmegaConf.set_struct(cfg, True)
    composed = overrides if isinstance(overrides, ComposedConfig) else compose_eval(overrides)
    values: dict[str, Any] = OmegaConf.to_container(composed.cfg, resolve=False)  # type: ignore[assignment]
    chosen = {group for group in composed.choices if group in values}
    with open_dict(cfg):  # a chosen group replaces the checkpoint's whole node, keys and all
        for group in chosen:
            cfg[group] = values[group]
    keyed = {k: v for k, v in values.items() if k not in chosen and k not in EVAL_KEYS}
    try:
        merged = OmegaConf.merge(cfg, keyed)
    except OmegaConfBaseException as exc:
        raise ConfigError(_unknown_key_message(cfg, exc)) from None
    assert isinstance(merged, DictConfig)
    _refuse_another_network(state["config"].get("model"), merged, composed.overrides)
    return merged


def _refuse_another_network(saved: Any, merged: DictConfig, overrides: Sequence[str]) -> None:
    """The network is the checkpoint's: an override that would build another one is refused.

    Weights of the same shapes load into a network with another activation, normalisation or
    layer order without a word, and score something that was never trained (``model.activation=tanh``
    on ReLU weights); a choice of another model (``model=linear``) would not load at all.
    """
    if not isinstance(saved, dict):
        return
    node = merged.get("model")
    now = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else None
    rebuilt = {str(k): v for k, v in now.items()} if isinstance(now, dict) else {}
    changes = [
        f"model.{key}: {override_value(before)} -> {override_value(after)}"
        for key, before, after in _differences(saved, rebuilt)
    ]
    if not changes:
        return
    named = [o.lstrip("+~") for o in overrides if o.lstrip("+~").split("=", 1)[0].split(".")[0] == "model"]
    which = " ".join(named) if named else "the overrides"
    raise ConfigError(
        f"{which} would change the network the checkpoint holds ({'; '.join(changes[:3])}"
        f"{f'; and {len(changes) - 3} more' if len(changes) > 3 else ''}); trainer eval scores the "
        "network as it was trained, rebuilt from the checkpoint's own config. Leave the model "
        "overrides out (to try other model settings, train a run with them)."
    )


def _differences(
    before: dict[str, Any], after: dict[str, Any], prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """``(dotted key, before, after)`` for each leaf that differs; a key one side lacks counts as None."""
    out = []
    for key in sorted({*before, *after}, key=str):
        one, two = before.get(key), after.get(key)
        name = f"{prefix}{key}"
        if isinstance(one, dict) and isinstance(two, dict):
            out.extend(_differences(one, two, f"{name}."))
        elif one != two:
            out.append((name, one, two))
    return out


def evaluate(
    ckpt_path: str | Path, overrides: Sequence[str] = (), *, split: str = "test"
) -> dict[str, float]:
    """Metrics of ``split`` (``test`` or ``val``) for the weights in ``ckpt_path``.

    Args:
        ckpt_path: the checkpoint; its saved config rebuilds the data and the model.
        overrides: Hydra overrides laid onto that config (see :func:`checkpoint_config`).
        split: ``test``, or ``val`` for the validation split.

    Raises:
        ConfigError: a split other than test or val, an override the saved config lacks, or one
            that would change the network.
        UserError: data that gives the network other input or output sizes than it was trained with.
    """
    return evaluate_checkpoint(ckpt_path, compose_eval(overrides), split=split)


def evaluate_checkpoint(ckpt_path: str | Path, composed: ComposedConfig, *, split: str) -> dict[str, float]:
    """:func:`evaluate` for overrides already composed by :func:`compose_eval`."""
    if split not in SPLITS:
        raise ConfigError(
            f"split={split!r} is not a split trainer eval can score; use split=test or split=val."
        )
    cfg = validate_config(checkpoint_config(ckpt_path, composed))
    # Scoring runs in this one process, whatever the saved run's trainer.strategy and devices.
    cfg.trainer.strategy, cfg.trainer.devices = "auto", 1
    datamodule, module = build_data_and_module(cfg)  # same seed and config: the same split
    # The network is the checkpoint's own (an override of it was refused): weights of other
    # shapes mean the data gives it other input or output sizes.
    check_checkpoint_fits(
        ckpt_path,
        module.model,
        fix=(
            "The network is rebuilt from the checkpoint's config, and the data decides its input and "
            "output sizes: score data with the feature columns and classes of the data it was trained on"
        ),
    )
    from trainer.tracking.base import NullLogger

    run_dir = Path(ckpt_path).resolve().parent
    trainer = build_trainer(cfg, run_dir=run_dir, callbacks=[], logger=NullLogger())
    if split == "val":
        return trainer.validate(module, datamodule, ckpt_path=ckpt_path)
    return trainer.test(module, datamodule, ckpt_path=ckpt_path)


def _unknown_key_message(cfg: DictConfig, exc: OmegaConfBaseException) -> str:
    """Name the key the checkpoint's config lacks, the keys it has there, and the closest one."""
    key = str(getattr(exc, "full_key", "") or "")
    if not key:
        return f"An override does not fit the checkpoint's config: {str(exc).splitlines()[0]}"
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    valid = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
    where = f"'{parent}'" if parent else "the root"
    listing = f" Valid keys in {where}: {', '.join(valid)}." if valid else ""
    close = difflib.get_close_matches(leaf, valid, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{key} is not a key of the checkpoint's config.{listing}{hint}"
