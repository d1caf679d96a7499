"""The binary decision threshold has one default, ``trainer.tasks.binary.DEFAULT_THRESHOLD``.

``conf/train.yaml`` and ``conf/fraud.yaml`` show it to users and the config schema fills it in;
each must state the same value, and the objective must use it wherever none is given.
"""

from __future__ import annotations

import dataclasses
import inspect

import pandas as pd
import torch

from trainer.config import compose_config
from trainer.config.schema import ObjectiveConfig
from trainer.tasks import BinaryObjective
from trainer.tasks.binary import DEFAULT_THRESHOLD


def test_every_statement_of_the_threshold_default_agrees() -> None:
    stated = {
        "conf/train.yaml objective.threshold": compose_config([]).cfg.objective.threshold,
        "conf/fraud.yaml objective.threshold": compose_config(
            [], config_name="fraud"
        ).cfg.objective.threshold,
        "config.schema.ObjectiveConfig.threshold": {
            f.name: f.default for f in dataclasses.fields(ObjectiveConfig)
        }["threshold"],
        "BinaryObjective(threshold=...)": inspect.signature(BinaryObjective).parameters["threshold"].default,
        "BinaryObjective.from_options without one": BinaryObjective.from_options(
            {}, train_labels=torch.tensor([0.0, 1.0])
        ).threshold,
    }
    drift = {where: value for where, value in stated.items() if value != DEFAULT_THRESHOLD}
    assert drift == {}, f"these disagree with DEFAULT_THRESHOLD={DEFAULT_THRESHOLD}: {drift}"


def test_a_package_without_a_threshold_uses_the_default() -> None:
    # Probabilities just below and at the default: the packaged model's labels turn there.
    just_below = torch.logit(torch.tensor([DEFAULT_THRESHOLD - 1e-3, DEFAULT_THRESHOLD]))
    frame = BinaryObjective.prediction_frame(
        just_below.reshape(-1, 1), torch.zeros(2, 1), {"classes": ["no", "yes"]}
    )
    pd.testing.assert_series_equal(frame["prediction"], pd.Series(["no", "yes"], name="prediction"))
