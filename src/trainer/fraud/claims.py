"""An insurance-claims-like table with a few percent of fraud, generated (no download).

The fraud signal hides in a few columns (a large claim soon after the policy started, no
police report and no witness, an inexperienced agent); the rest are noise. Numeric and text
columns are mixed, so the categorical paths (one-hot, SMOTENC, native HGB categories) all run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trainer.data.sources import TableSource
from trainer.errors import ConfigError


def _intercept_for_rate(logits: np.ndarray, rate: float) -> float:
    """The shift of ``logits`` whose mean sigmoid is ``rate`` (bisection: the mean is monotone)."""
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        mean = float(np.mean(1.0 / (1.0 + np.exp(-(logits + mid)))))
        low, high = (mid, high) if mean < rate else (low, mid)
    return (low + high) / 2


class ClaimsSource(TableSource):
    """Generated car-insurance claims with a binary ``fraud`` column.

    Args:
        n_samples: rows.
        fraud_rate: expected share of fraud rows, e.g. 0.04.
        signal: strength of the fraud signal (0 makes fraud pure noise).
        n_noise: extra numeric columns with no signal.
        random_state: seed of the generator.
    """

    def __init__(
        self,
        *,
        n_samples: int = 6000,
        fraud_rate: float = 0.04,
        signal: float = 1.0,
        n_noise: int = 3,
        random_state: int = 0,
    ) -> None:
        if not 0.0 < fraud_rate < 0.5:
            raise ConfigError(
                f"data.source.fraud_rate={fraud_rate} must be in (0, 0.5): fraud is the rare class."
            )
        if n_samples < 20:
            raise ConfigError(f"data.source.n_samples={n_samples} must be 20 or more.")
        self.n_samples = n_samples
        self.fraud_rate = fraud_rate
        self.signal = signal
        self.n_noise = n_noise
        self.random_state = random_state

    def load(self) -> pd.DataFrame:
        rng = np.random.default_rng(self.random_state)
        n = self.n_samples
        frame = pd.DataFrame(
            {
                "claim_amount": np.round(rng.lognormal(mean=8.0, sigma=0.8, size=n), 2),
                "policy_age_days": rng.integers(1, 3650, size=n),
                "driver_age": rng.integers(18, 85, size=n),
                "past_claims": rng.poisson(0.6, size=n),
                "vehicle_category": rng.choice(["sedan", "sport", "utility"], size=n, p=[0.6, 0.15, 0.25]),
                "accident_area": rng.choice(["urban", "rural"], size=n, p=[0.85, 0.15]),
                "police_report": rng.choice(["yes", "no"], size=n, p=[0.7, 0.3]),
                "witness_present": rng.choice(["yes", "no"], size=n, p=[0.4, 0.6]),
                "agent_type": rng.choice(["external", "internal"], size=n, p=[0.9, 0.1]),
                "policy_type": rng.choice(["liability", "collision", "all_perils"], size=n),
                "month": rng.choice(["jan", "feb", "mar", "apr", "may", "jun"], size=n),
            }
        )
        for i in range(self.n_noise):
            frame[f"noise_{i}"] = rng.normal(size=n)
        # The signal: an interaction a linear model only half sees, plus three plain effects.
        large = np.log(frame["claim_amount"]) > 8.5
        new_policy = frame["policy_age_days"] < 180
        logits = self.signal * (
            2.8 * (large & new_policy)
            + 1.5 * (frame["police_report"] == "no")
            + 1.0 * ((frame["witness_present"] == "no") & (frame["police_report"] == "no"))
            + 1.6 * (frame["agent_type"] == "internal")
            + 0.5 * (frame["past_claims"] > 1)
        ).to_numpy(dtype=float)
        logits = logits + _intercept_for_rate(logits, self.fraud_rate)
        frame["fraud"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
        return frame

    def describe(self) -> dict[str, Any]:
        return {
            "name": "synthetic_claims",
            "source": f"synthetic://claims?n={self.n_samples}&fraud_rate={self.fraud_rate}&seed={self.random_state}",
        }
