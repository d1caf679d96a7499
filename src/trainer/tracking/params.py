"""Flatten a nested config into dotted keys, within the limits trackers impose."""

from __future__ import annotations

from typing import Any

# MLflow's limits (mlflow.utils.validation): key length 250, value length 6000.
MAX_KEY_LENGTH = 250
MAX_VALUE_LENGTH = 6000


def flatten_config(config: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay whole as text, long values are cut."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten_config(value, prefix=name))
            continue
        if isinstance(value, list | tuple | dict):
            value = str(list(value) if not isinstance(value, dict) else value)
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            value = value[: MAX_VALUE_LENGTH - 3] + "..."
        flat[name[:MAX_KEY_LENGTH]] = value
    return flat


#: Sections that say where and how a run is recorded or shown, not what it trains: they stay in
#: the run's config.yaml, out of its params (a user compares runs by what was tuned).
UNTUNED_PREFIXES = ("logger.", "paths.", "callbacks.progress.", "hydra.")
UNTUNED_KEYS = frozenset({"run_name"})
#: Components whose class is a choice worth a param: ``model = MLP`` instead of a dotted path.
CLASS_PARAMS = frozenset({"model", "optimizer", "scheduler", "data.source", "resample"})


def run_params(flat: dict[str, Any]) -> dict[str, Any]:
    """The params a run records from its flattened config (:func:`flatten_config`): what a user
    tunes and compares. Recording and display settings are dropped, and a component's class
    path becomes its class name under the component's key (``optimizer = Adam``)."""
    params: dict[str, Any] = {}
    for key, value in flat.items():
        if key in UNTUNED_KEYS or key.startswith(UNTUNED_PREFIXES):
            continue
        if key.endswith("._target_"):
            owner = key.removesuffix("._target_")
            if owner in CLASS_PARAMS:
                params[owner] = str(value).rsplit(".", 1)[-1]
            continue
        params[key] = value
    return params
