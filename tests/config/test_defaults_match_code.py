"""One source for every default: the conf files may not silently disagree with the code.

The Trainer's signature is the source of its defaults (``config/schema.py`` is generated
from it); ``conf/trainer/default.yaml`` shows them to users and must say the same. The same
holds for the default options of the other groups whose nodes name a ``_target_``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

from trainer.config import compose_config
from trainer.config.schema import TrainerConfig
from trainer.engine import Trainer

# Keys a conf file sets on purpose to another value than the code's default, with the reason.
DELIBERATE = {
    ("logger", "tracking_uri"): "the conf names MLflow's default store explicitly for users to read",
}


def _signature_defaults(target: Any) -> dict[str, Any]:
    parameters = inspect.signature(target).parameters
    return {n: p.default for n, p in parameters.items() if p.default is not inspect.Parameter.empty}


def test_trainer_conf_equals_the_trainers_own_defaults() -> None:
    conf = OmegaConf.to_container(compose_config([]).cfg.trainer, resolve=True)
    assert isinstance(conf, dict)
    code = _signature_defaults(Trainer)
    shared = set(conf) & set(code)
    assert shared == set(conf), (
        f"keys in conf/trainer/default.yaml that Trainer lacks: {set(conf) - set(code)}"
    )
    drift = {
        k: (conf[k], code[k]) for k in shared if conf[k] != code[k] or type(conf[k]) is not type(code[k])
    }
    assert drift == {}, f"conf/trainer/default.yaml disagrees with Trainer's defaults (conf, code): {drift}"


def test_trainer_schema_is_the_trainers_signature() -> None:
    schema = {f.name: f.default for f in dataclasses.fields(TrainerConfig)}
    code = _signature_defaults(Trainer)
    assert schema == {k: v for k, v in code.items() if k in schema}
    assert set(code) - set(schema) == {"callbacks", "logger", "default_root_dir"}


@pytest.mark.parametrize("group", ["callbacks", "logger"])
def test_default_group_options_equal_their_targets_defaults(group: str) -> None:
    node = OmegaConf.to_container(compose_config([]).cfg[group], resolve=True)
    assert isinstance(node, dict)
    nodes = {group: node} if "_target_" in node else node
    checked = 0
    for name, entry in nodes.items():
        code = _signature_defaults(get_object(entry["_target_"]))
        for key, value in entry.items():
            if key.startswith("_") or key not in code or (group, key) in DELIBERATE:
                continue
            same = value == code[key] or (value in ({}, []) and code[key] is None)  # empty == none
            assert same, f"{group}.{name}.{key}: conf says {value!r}, the code {code[key]!r}"
            checked += 1
    assert checked >= 5  # the comparison really ran over the options


# ---------------------------------------------------------------------- the commands' own conf files
@pytest.mark.parametrize(
    ("config_name", "holder"), [("gradcheck", "GradcheckOptions"), ("lr_find", "LRFindOptions")]
)
def test_a_diagnosis_conf_is_train_yaml_plus_its_section_and_the_only_source_of_its_defaults(
    config_name: str, holder: str
) -> None:
    from trainer.commands import diagnose as command

    cfg = compose_config([], config_name=config_name).cfg
    section = OmegaConf.to_container(cfg[config_name], resolve=True)
    assert isinstance(section, dict)
    kind = getattr(command, holder)
    assert list(section) == [f.name for f in dataclasses.fields(kind)]
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(kind)), "defaults live in conf/"
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in section.values())
    rest = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(rest, dict)
    rest.pop(config_name)
    assert rest == OmegaConf.to_container(compose_config([]).cfg, resolve=False)


def test_eval_conf_offers_train_yamls_groups_and_its_own_keys() -> None:
    from trainer.evaluate import EVAL_KEYS, SPLITS

    train = compose_config([])
    composed = compose_config([], config_name="eval")
    assert composed.cfg.split in SPLITS and composed.cfg.ckpt_path is None
    assert tuple(composed.cfg) == EVAL_KEYS  # no group chosen: the checkpoint's own config rules
    offered = {k for k in composed.hydra["runtime"]["choices"] if not k.startswith("hydra/")}
    assert offered == {k for k in train.hydra["runtime"]["choices"] if not k.startswith("hydra/")}


def test_upload_conf_defaults_are_upload_journals_own() -> None:
    from trainer.tracking.upload import upload_journal

    cfg = compose_config([], config_name="upload").cfg
    assert cfg.run_dir is None
    assert cfg.logger.tracking_uri == _signature_defaults(upload_journal)["tracking_uri"]
