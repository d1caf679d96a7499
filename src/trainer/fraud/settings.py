"""The ``fraud:`` section of ``conf/fraud.yaml`` as typed dataclasses (typos and bad types fail early)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainer.data.resample import SAMPLERS
from trainer.errors import ConfigError

#: Approaches that are not a sampler name.
BASE_APPROACHES = ("no_skill", "plain", "weighted", "autoencoder", "hgb", "isolation_forest")
APPROACHES = (*BASE_APPROACHES, *(name for name in SAMPLERS if name != "none"))


@dataclass
class ThresholdSettings:
    rule: str = "best_f1"
    # Rule used for the autoencoder and IsolationForest instead of ``rule``; null: the same rule.
    anomaly_rule: str | None = None
    recall: float = 0.8
    precision: float = 0.5
    k: int = 100
    fraction: float = 0.05
    percentile: float = 99.0


@dataclass
class AutoencoderSettings:
    model: Any = None  # a model node with a _target_ (trainer.models.Autoencoder)
    noise: float = 0.0


@dataclass
class ExplainSettings:
    n_repeats: int = 3
    top_columns: int = 3
    max_rows: int = 20


@dataclass
class ReferenceSettings:
    hgb_max_iter: int = 200
    hgb_learning_rate: float = 0.1
    isolation_forest_trees: int = 200


@dataclass
class FraudSettings:
    approaches: list[str] = field(default_factory=lambda: list(APPROACHES))
    pos_weight: Any = "balanced"
    patience: int = 8
    # Networks per classifier approach, seeds seed..seed+n-1, their probabilities averaged.
    ensemble: int = 1
    precision_at_k: int = 100
    threshold: ThresholdSettings = field(default_factory=ThresholdSettings)
    autoencoder: AutoencoderSettings = field(default_factory=AutoencoderSettings)
    explain: ExplainSettings = field(default_factory=ExplainSettings)
    references: ReferenceSettings = field(default_factory=ReferenceSettings)


def read_settings(node: DictConfig | None) -> FraudSettings:
    """The ``fraud`` node merged into :class:`FraudSettings`, checked.

    Raises:
        ConfigError: an unknown key, a wrong type, or an unknown approach (the message lists the choices).
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(FraudSettings), node or {})
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "") or "fraud"
        raise ConfigError(
            f"fraud.{key}: {str(exc).splitlines()[0]}. Fix it in conf/fraud.yaml or the command line."
        ) from None
    settings: FraudSettings = OmegaConf.to_object(merged)  # type: ignore[assignment]
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
