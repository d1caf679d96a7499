"""The ``fraud:`` section of ``conf/fraud.yaml`` as typed dataclasses (typos and bad types fail early)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainer.data.resample import SAMPLERS
from trainer.errors import ConfigError

#: Approaches that are not a sampler name.
BASE_APPROACHES = ("no_skill", "plain", "weighted", "autoencoder", "hgb", "isolation_forest")
APPROACHES = (*BASE_APPROACHES, *(name for name in SAMPLERS if name != "none"))


# The fields below have no defaults on purpose: the ``fraud:`` section of ``conf/fraud.yaml`` is
# their one source (it says what each means); these classes only give the names and types, so a
# typo or a wrong type fails at once.
@dataclass
class ThresholdSettings:
    rule: str
    # Rule used for the autoencoder and IsolationForest instead of ``rule``; null: the same rule.
    anomaly_rule: str | None
    recall: float
    precision: float
    k: int
    fraction: float
    percentile: float


@dataclass
class AutoencoderSettings:
    model: Any  # a model node with a _target_ (trainer.models.Autoencoder)
    noise: float


@dataclass
class ExplainSettings:
    n_repeats: int
    top_columns: int
    max_rows: int


@dataclass
class ReferenceSettings:
    hgb_max_iter: int
    hgb_learning_rate: float
    isolation_forest_trees: int


@dataclass
class FraudSettings:
    """The ``fraud:`` section of ``conf/fraud.yaml``, typed."""

    approaches: list[str]
    pos_weight: Any
    patience: int
    # Networks per classifier approach, seeds seed..seed+n-1, their probabilities averaged.
    ensemble: int
    precision_at_k: int
    threshold: ThresholdSettings
    autoencoder: AutoencoderSettings
    explain: ExplainSettings
    references: ReferenceSettings


def read_settings(node: DictConfig | None) -> FraudSettings:
    """The ``fraud`` node (from ``conf/fraud.yaml``, the one source of its values) as :class:`FraudSettings`.

    Raises:
        ConfigError: an unknown key, a wrong type, or an unknown approach (the message lists the choices).
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(FraudSettings), node or {})
        settings: FraudSettings = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:  # a typo, a wrong type, or a key conf/fraud.yaml lost
        key = getattr(exc, "full_key", "") or "fraud"
        raise ConfigError(
            f"fraud.{key}: {str(exc).splitlines()[0]}. Fix it in conf/fraud.yaml or the command line."
        ) from None
    unknown = [a for a in settings.approaches if a not in APPROACHES]
    if unknown:
        raise ConfigError(
            f"fraud.approaches holds {', '.join(map(repr, unknown))}; choose from {', '.join(APPROACHES)}."
        )
    if not settings.approaches:
        raise ConfigError(
            "fraud.approaches is empty; list at least one, e.g. fraud.approaches=[weighted,hgb]."
        )
    if settings.patience < 0 or settings.precision_at_k < 1 or settings.ensemble < 1:
        raise ConfigError(
            "fraud.patience must be 0 or more, fraud.precision_at_k and fraud.ensemble 1 or more."
        )
    return settings
