"""One source per default, for every config group: conf files and code never state a value twice
by hand without a test that catches them drifting apart.

- ``sweep:`` and ``fraud:``: their settings classes state no values at all; conf/sweep.yaml and
  conf/fraud.yaml are the one source.
- objective, regularization, paths and the root keys: the schema's defaults (what a config that
  leaves a key out gets) equal what train.yaml and fraud.yaml state.
- resample: every sampler file states its target's own defaults.
- data, model, optimizer, scheduler: the options train.yaml picks state their target's defaults,
  except the keys listed in DELIBERATE with the reason.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

from trainer.config import compose_config
from trainer.config.compose import conf_dir
from trainer.config.schema import ObjectiveConfig, PathsConfig, RegularizationConfig, TrainConfig

# (group, key): why the option train.yaml picks states another value than its target's default.
DELIBERATE = {
    ("data", "task"): "breast_cancer states its task for readers; the code infers it (auto)",
    ("data", "batch_size"): "569 rows: batches of 32 give each epoch enough steps",
    ("data", "seed"): "the split follows the run's ${seed}",
    ("model", "hidden_sizes"): "the default network tapers (64, 32); the class has no such preference",
    ("model", "init"): "He initialisation for ReLU, as taught; the class keeps torch's own",
}


def _signature_defaults(target: Any) -> dict[str, Any]:
    parameters = inspect.signature(target).parameters
    return {n: p.default for n, p in parameters.items() if p.default is not inspect.Parameter.empty}


def _same(conf_value: Any, code_value: Any) -> bool:
    if isinstance(conf_value, list) and isinstance(code_value, tuple):
        return conf_value == list(code_value)
    return conf_value == code_value or (conf_value in ({}, []) and code_value is None)


def _stated_defaults(cls: type) -> list[str]:
    """The fields of a settings dataclass (and of the dataclasses it nests) that state a value."""
    import typing

    hints = typing.get_type_hints(cls)
    stated = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            stated.append(f"{cls.__name__}.{f.name}")
        nested = hints[f.name]
        if isinstance(nested, type) and dataclasses.is_dataclass(nested):
            stated += _stated_defaults(nested)
    return stated


@pytest.mark.parametrize(
    ("module", "name"),
    [("trainer.sweep.settings", "SweepSettings"), ("trainer.fraud.settings", "FraudSettings")],
)
def test_settings_classes_state_no_values(module: str, name: str) -> None:
    import importlib

    cls = getattr(importlib.import_module(module), name)
    assert _stated_defaults(cls) == [], "conf/ is the one source of these values"


@pytest.mark.parametrize("config_name", ["train", "fraud", "sweep", "gradcheck", "lr_find"])
def test_structured_sections_equal_the_schema_defaults(config_name: str) -> None:
    cfg = compose_config([], config_name=config_name).cfg
    for section, schema in (
        ("objective", ObjectiveConfig),
        ("regularization", RegularizationConfig),
        ("paths", PathsConfig),
    ):
        defaults = {f.name: f.default for f in dataclasses.fields(schema)}
        assert OmegaConf.to_container(cfg[section], resolve=True) == defaults, (config_name, section)
    root = ("seed", "ckpt_path", "run_name", "test_after_fit")
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name in root}
    assert {key: cfg[key] for key in root} == defaults, config_name


def test_every_sampler_file_states_its_targets_defaults() -> None:
    from trainer.data.resample import Resampler

    code = _signature_defaults(Resampler)
    files = sorted((conf_dir() / "resample").glob("*.yaml"))
    checked = 0
    for path in files:
        node = OmegaConf.to_container(OmegaConf.load(path))
        assert isinstance(node, dict) and node["name"] == Path(path).stem
        for key, value in node.items():
            if key == "name":
                continue
            assert key in code, f"{path.name}: {key} is not a Resampler argument"
            assert _same(value, code[key]), f"{path.name}: {key}={value!r}, the code {code[key]!r}"
            checked += 1
    assert len(files) >= 10 and checked >= 15  # the comparison really ran over the files


@pytest.mark.parametrize("group", ["data", "model", "optimizer", "scheduler"])
def test_the_chosen_options_state_their_targets_defaults(group: str) -> None:
    node = OmegaConf.to_container(compose_config(["scheduler=cosine"]).cfg[group], resolve=False)
    assert isinstance(node, dict) and "_target_" in node
    code = _signature_defaults(get_object(node["_target_"]))
    drift = {
        key: (value, code[key])
        for key, value in node.items()
        if key in code and (group, key) not in DELIBERATE and not _same(value, code[key])
    }
    assert drift == {}, f"conf/{group}/ disagrees with {node['_target_']} (conf, code): {drift}"
    unused = [key for (g, key) in DELIBERATE if g == group and _same(node.get(key), code.get(key))]
    assert unused == [], f"DELIBERATE lists {group}.{unused} although conf and code agree now"
