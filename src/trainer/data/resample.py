"""imbalanced-learn samplers built from config, applied to preprocessed training rows only.

The study preprocesses first (statistics of the training rows), then resamples the training
tensors; validation and test rows are never passed here, so no synthetic row reaches them.
This is what an ``imblearn.pipeline.Pipeline([preprocess, sampler, model])`` does during
``fit``, written out because the model is trained by our engine, not by ``Pipeline.fit``.

SMOTENC and one-hot columns: SMOTENC votes a category per categorical *feature*. Given the
one-hot columns it would vote each 0/1 column on its own and could make rows with two or no
categories set. So SMOTENC runs on a folded matrix (scaled numbers + one integer code per
categorical column) and the codes are one-hot encoded again afterwards.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from trainer.data.feature_layout import FeatureLayout
from trainer.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Config name -> imbalanced-learn class (``none`` leaves the rows as they are).
SAMPLERS: dict[str, str] = {
    "none": "",
    "smote": "imblearn.over_sampling.SMOTE",
    "borderline_smote": "imblearn.over_sampling.BorderlineSMOTE",
    "svm_smote": "imblearn.over_sampling.SVMSMOTE",
    "adasyn": "imblearn.over_sampling.ADASYN",
    "smotenc": "imblearn.over_sampling.SMOTENC",
    "random_over": "imblearn.over_sampling.RandomOverSampler",
    "random_under": "imblearn.under_sampling.RandomUnderSampler",
    "smote_tomek": "imblearn.combine.SMOTETomek",
    "smote_enn": "imblearn.combine.SMOTEENN",
}
#: Samplers that interpolate between minority neighbours (they need ``k_neighbors + 1`` such rows).
NEIGHBOUR_SAMPLERS = frozenset(
    {"smote", "borderline_smote", "svm_smote", "adasyn", "smotenc", "smote_tomek", "smote_enn"}
)


def check_sampler_name(name: str) -> str:
    """Return ``name`` if it is a known sampler; otherwise one error listing the choices."""
    if name not in SAMPLERS:
        import difflib

        close = difflib.get_close_matches(name, list(SAMPLERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"resample={name!r} is not a known sampler; choose one of {', '.join(SAMPLERS)}.{hint}"
        )
    return name


#: The words imbalanced-learn takes for ``sampling_strategy`` (a float is a minority/majority ratio).
STRATEGY_WORDS = ("auto", "minority", "majority", "not minority", "not majority", "all")


def _check_sampling_strategy(value: float | str) -> None:
    if isinstance(value, str):
        if value not in STRATEGY_WORDS:
            raise ConfigError(
                f"resample.sampling_strategy={value!r} is not known; choose one of "
                f"{', '.join(STRATEGY_WORDS)}, or a minority/majority ratio in (0, 1]."
            )
    elif isinstance(value, bool) or not 0.0 < float(value) <= 1.0:
        raise ConfigError(
            f"resample.sampling_strategy={value!r} must be a minority/majority ratio in (0, 1], or auto."
        )


class Resampler:
    """One configured imbalanced-learn sampler, with checks that speak the user's language.

    Args:
        name: a key of :data:`SAMPLERS` (``smote``, ``smotenc``, ``random_under``, ...).
        sampling_strategy: imbalanced-learn's ``sampling_strategy``: ``auto`` (balance the
            classes) or a float, the wanted minority/majority ratio after resampling.
        k_neighbors: minority neighbours SMOTE-like samplers interpolate between
            (``n_neighbors`` for ADASYN).
        m_neighbors: neighbours that decide "danger" rows (BorderlineSMOTE, SVMSMOTE).
        random_state: seed of the sampler.

    Attributes:
        sampler_: the fitted imbalanced-learn object (``None`` for ``none``).
        counts_before_, counts_after_: rows per class before and after resampling.
    """

    def __init__(
        self,
        *,
        name: str = "smote",
        sampling_strategy: float | str = "auto",
        k_neighbors: int = 5,
        m_neighbors: int = 10,
        random_state: int | None = 0,
    ) -> None:
        self.name = check_sampler_name(name)
        if k_neighbors < 1:
            raise ConfigError(f"resample.k_neighbors={k_neighbors} must be 1 or more.")
        if m_neighbors < 1:
            raise ConfigError(f"resample.m_neighbors={m_neighbors} must be 1 or more.")
        _check_sampling_strategy(sampling_strategy)
        self.sampling_strategy = sampling_strategy
        self.k_neighbors = k_neighbors
        self.m_neighbors = m_neighbors
        self.random_state = random_state

    @classmethod
    def from_options(cls, options: dict[str, Any], *, random_state: int | None) -> Resampler:
        """A Resampler from a ``resample:`` section's values (``name`` and the options above).

        Raises:
            ConfigError: a key that is not a setting (the valid ones listed), or a bad value.
        """
        import inspect

        valid = [p for p in inspect.signature(cls).parameters if p != "random_state"]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ConfigError(f"resample.{unknown[0]} is not a resample setting; valid: {', '.join(valid)}.")
        return cls(random_state=random_state, **options)

    # ------------------------------------------------------------------ building
    def _build(self, layout: FeatureLayout | None) -> Any:
        from hydra.utils import get_class

        cls = get_class(SAMPLERS[self.name])
        common: dict[str, Any] = {
            "sampling_strategy": self.sampling_strategy,
            "random_state": self.random_state,
        }
        if self.name in ("smote", "borderline_smote", "svm_smote"):
            extra = {} if self.name == "smote" else {"m_neighbors": self.m_neighbors}
            return cls(k_neighbors=self.k_neighbors, **extra, **common)
        if self.name == "adasyn":
            return cls(n_neighbors=self.k_neighbors, **common)
        if self.name == "smotenc":
            assert layout is not None
            return cls(layout.folded_categorical, k_neighbors=self.k_neighbors, **common)
        if self.name in ("smote_tomek", "smote_enn"):
            from imblearn.over_sampling import SMOTE

            smote = SMOTE(k_neighbors=self.k_neighbors, random_state=self.random_state)
            return cls(smote=smote, **common)
        return cls(**common)

    # ------------------------------------------------------------------ checks
    def _check(self, x: np.ndarray, y: np.ndarray, layout: FeatureLayout | None) -> None:
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise DataError(
                f"resample={self.name} needs both classes in the training split, which holds only "
                f"class {classes[0]!r}. Check data.target and the split."
            )
        if not np.isfinite(x).all():
            raise DataError(
                f"resample={self.name} got missing or infinite feature values after preprocessing; "
                "imbalanced-learn's samplers cannot take them. Fill or drop those values in the table."
            )
        minority = int(counts.min())
        if self.name in NEIGHBOUR_SAMPLERS and minority < self.k_neighbors + 1:
            raise DataError(
                f"resample={self.name} with k_neighbors={self.k_neighbors} needs at least "
                f"{self.k_neighbors + 1} minority rows in the training split, but it has {minority}. "
                f"Lower resample.k_neighbors (at most {max(minority - 1, 1)}), or use resample=random_over, "
                "which copies rows and needs no neighbours."
            )
        if self.name == "smotenc":
            if layout is None or not layout.groups:
                raise DataError(
                    "resample=smotenc is for tables with categorical columns, and this one has none "
                    "after preprocessing; use resample=smote."
                )
            if not layout.numeric:
                raise DataError(
                    "resample=smotenc needs at least one numeric column besides the categorical ones; "
                    "with only categories use resample=random_over."
                )
        elif self.name in NEIGHBOUR_SAMPLERS and layout is not None and layout.groups:
            # Interpolating one-hot columns makes fractional categories: not fatal, but not data either.
            log.warning(
                "resample=%s interpolates the one-hot columns of %d categorical columns (%s) as if they "
                "were numbers; resample=smotenc keeps categories whole.",
                self.name,
                len(layout.groups),
                ", ".join(list(layout.groups)[:5]),
            )

    # ------------------------------------------------------------------ resampling
    def fit_resample(
        self, x: np.ndarray, y: np.ndarray, *, layout: FeatureLayout | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Resample preprocessed training rows.

        Args:
            x: ``(rows, features)`` preprocessed training features; never validation or test rows.
            y: ``(rows,)`` 0/1 labels.
            layout: the preprocessor's layout (needed by ``smotenc``; used to warn about one-hot
                columns given to plain SMOTE).

        Returns:
            The resampled ``(features, labels)`` as float32 arrays.

        Raises:
            DataError: one class only, non-finite values, too few minority rows for the neighbours,
                or a table that does not suit the sampler.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y).reshape(-1).astype(np.int64)
        self.counts_before_ = {int(c): int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}
        if self.name == "none":
            self.sampler_ = None
            self.counts_after_ = dict(self.counts_before_)
            return x.astype(np.float32), y.astype(np.float32)
        self._check(x, y, layout)
        self.sampler_ = self._build(layout)
        data = layout.fold(x) if self.name == "smotenc" and layout is not None else x
        try:
            x_new, y_new = self.sampler_.fit_resample(data, y)
        except RuntimeError as exc:  # ADASYN: no minority row has a majority neighbour
            raise DataError(
                f"resample={self.name} cannot resample this training split: {' '.join(str(exc).split())}"
            ) from None
        except ValueError as exc:  # e.g. a sampling_strategy that would remove minority rows
            raise DataError(
                f"resample={self.name} (sampling_strategy={self.sampling_strategy!r}) failed: "
                f"{' '.join(str(exc).split())}. Check resample.sampling_strategy (auto, or a "
                "minority/majority ratio above the current one)."
            ) from None
        if self.name == "smotenc" and layout is not None:
            x_new = layout.unfold(np.asarray(x_new, dtype=np.float64))
        self.counts_after_ = {
            int(c): int(n) for c, n in zip(*np.unique(y_new, return_counts=True), strict=True)
        }
        log.info("resample=%s: %s -> %s rows per class", self.name, self.counts_before_, self.counts_after_)
        return np.asarray(x_new, dtype=np.float32), np.asarray(y_new, dtype=np.float32)
