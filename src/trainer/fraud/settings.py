"""The ``fraud:`` section of ``conf/fraud.yaml`` as typed dataclasses (typos and bad types fail early)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from trainer.data.resample import SAMPLERS
from trainer.errors import ConfigError
from trainer.fraud.thresholds import ThresholdSelector

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
    check_settings(settings)
    return settings


#: Numeric settings outside the threshold rules -> (whether a value is allowed, the range in words).
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "patience": (lambda v: v >= 0, "0 or more"),
    "ensemble": (lambda v: v >= 1, "1 or more"),
    "precision_at_k": (lambda v: v >= 1, "1 or more"),
    "autoencoder.noise": (lambda v: v >= 0, "0 or more (0 is off)"),
    "explain.n_repeats": (lambda v: v >= 1, "1 or more"),
    "explain.top_columns": (lambda v: v >= 1, "1 or more"),
    "explain.max_rows": (lambda v: v >= 0, "0 or more"),
    "references.hgb_max_iter": (lambda v: v >= 1, "1 or more"),
    "references.hgb_learning_rate": (lambda v: v > 0, "above 0"),
    "references.isolation_forest_trees": (lambda v: v >= 1, "1 or more"),
}


def check_settings(settings: FraudSettings) -> None:
    """Every value of the ``fraud:`` section, checked before anything is loaded or trained.

    Raises:
        ConfigError: the first bad value, named with what it may be.
    """
    unknown = [a for a in settings.approaches if a not in APPROACHES]
    if unknown:
        raise ConfigError(
            f"fraud.approaches holds {', '.join(map(repr, unknown))}; choose from {', '.join(APPROACHES)}."
        )
    if not settings.approaches:
        raise ConfigError(
            "fraud.approaches is empty; list at least one, e.g. fraud.approaches=[weighted,hgb]."
        )
    twice = sorted({a for a in settings.approaches if settings.approaches.count(a) > 1})
    if twice:
        raise ConfigError(f"fraud.approaches lists {twice[0]!r} twice; each approach runs once.")
    for key, (allowed, in_words) in RANGES.items():
        value: Any = settings
        for part in key.split("."):
            value = getattr(value, part)
        if not allowed(value):
            raise ConfigError(f"fraud.{key}={value} must be {in_words}.")
    pos_weight = settings.pos_weight
    number = isinstance(pos_weight, int | float) and not isinstance(pos_weight, bool)
    if pos_weight is not None and pos_weight != "balanced" and not (number and pos_weight > 0):
        raise ConfigError(
            f"fraud.pos_weight={pos_weight!r} must be balanced (negatives / positives in training) "
            "or a number above 0."
        )
    threshold = settings.threshold
    # The selector checks its rule and every setting's range; the anomaly rule is checked too.
    rules = {"rule": threshold.rule}
    if threshold.anomaly_rule is not None:
        rules["anomaly_rule"] = threshold.anomaly_rule
    for key, rule in rules.items():
        try:
            ThresholdSelector(
                rule=rule,
                recall=threshold.recall,
                precision=threshold.precision,
                k=threshold.k,
                fraction=threshold.fraction,
                percentile=threshold.percentile,
            )
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("fraud.threshold.rule=", f"fraud.threshold.{key}=")) from None
