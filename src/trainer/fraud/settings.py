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
BASE_APPROACHES = (
    "no_skill",
    "plain",
    "weighted",
    "autoencoder",
    "hgb",
    "logistic",
    "isolation_forest",
    "lof",
    "knn",
    "pca",
)
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


#: What the autoencoder is stopped and selected on: the reconstruction loss of normal validation
#: rows (no fraud label used), or validation AP (uses the labels).
AUTOENCODER_SELECTION = ("normal_loss", "val_ap")
#: The autoencoder's row score: squared errors averaged (mse), or each feature's error first
#: divided by its mean error on normal validation rows (scaled).
AUTOENCODER_SCORES = ("scaled", "mse")


@dataclass
class AutoencoderSettings:
    model: Any  # a model node with a _target_ (trainer.models.Autoencoder); widths may be auto
    noise: float
    select_on: str
    score: str
    optimizer: Any  # merged into the run's optimizer node for the autoencoder only
    ensemble: int


@dataclass
class ExplainSettings:
    n_repeats: int
    top_columns: int
    max_rows: int


@dataclass
class ReferenceSettings:
    hgb_max_iter: int
    hgb_patience: int
    hgb_learning_rates: list[float]
    hgb_max_leaf_nodes: list[int]
    logistic_c: list[float]
    logistic_max_iter: int
    isolation_forest_trees: int
    lof_neighbors: int
    knn_neighbors: int
    neighbors_max_rows: int
    pca_variance: float


@dataclass
class FraudSettings:
    """The ``fraud:`` section of ``conf/fraud.yaml``, typed."""

    approaches: list[str]
    pos_weight: Any
    patience: int
    # Networks per classifier approach, seeds seed..seed+n-1, their probabilities averaged.
    ensemble: int
    # Processes fitting the networks at once: auto (one per core) or a number.
    workers: Any
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


def _each(allowed: Callable[[float], bool]) -> Callable[[Any], bool]:
    """A check of a list setting: not empty, and ``allowed`` holds for every value."""
    return lambda values: len(values) > 0 and all(allowed(v) for v in values)


#: Numeric settings outside the threshold rules -> (whether a value is allowed, the range in words).
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "patience": (lambda v: v >= 0, "0 or more"),
    "ensemble": (lambda v: v >= 1, "1 or more"),
    "precision_at_k": (lambda v: v >= 1, "1 or more"),
    "autoencoder.noise": (lambda v: v >= 0, "0 or more (0 is off)"),
    "autoencoder.ensemble": (lambda v: v >= 1, "1 or more"),
    "explain.n_repeats": (lambda v: v >= 1, "1 or more"),
    "explain.top_columns": (lambda v: v >= 1, "1 or more"),
    "explain.max_rows": (lambda v: v >= 0, "0 or more"),
    "references.hgb_max_iter": (lambda v: v >= 1, "1 or more"),
    "references.hgb_patience": (lambda v: v >= 1, "1 or more"),
    "references.hgb_learning_rates": (_each(lambda v: v > 0), "a non-empty list of numbers above 0"),
    "references.hgb_max_leaf_nodes": (_each(lambda v: v >= 2), "a non-empty list of numbers of 2 or more"),
    "references.logistic_c": (_each(lambda v: v > 0), "a non-empty list of numbers above 0"),
    "references.logistic_max_iter": (lambda v: v >= 1, "1 or more"),
    "references.isolation_forest_trees": (lambda v: v >= 1, "1 or more"),
    "references.lof_neighbors": (lambda v: v >= 1, "1 or more"),
    "references.knn_neighbors": (lambda v: v >= 1, "1 or more"),
    "references.neighbors_max_rows": (lambda v: v >= 2, "2 or more"),
    "references.pca_variance": (lambda v: 0 < v < 1, "in (0, 1)"),
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
    if settings.autoencoder.select_on not in AUTOENCODER_SELECTION:
        raise ConfigError(
            f"fraud.autoencoder.select_on={settings.autoencoder.select_on!r}; choose "
            f"{' or '.join(AUTOENCODER_SELECTION)} (normal_loss needs no fraud label)."
        )
    if settings.autoencoder.score not in AUTOENCODER_SCORES:
        raise ConfigError(
            f"fraud.autoencoder.score={settings.autoencoder.score!r}; "
            f"choose {' or '.join(AUTOENCODER_SCORES)}."
        )
    workers = settings.workers
    if workers != "auto" and not (
        isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1
    ):
        raise ConfigError(
            f"fraud.workers={workers!r} must be auto (one per core) or a whole number of 1 or more."
        )
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
