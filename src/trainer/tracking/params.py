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
