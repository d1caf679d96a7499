"""Markers and shared fixtures of the deployment tests."""

from __future__ import annotations

import pytest

from .engine import OPT_IN, opted_in


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``docker`` marker (tests that build and run the images with a Docker engine)."""
    config.addinivalue_line(
        "markers",
        f"docker: builds and runs the images; only with -m docker or {OPT_IN}=1, and skipped without "
        "an engine or a base image",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``docker`` tests unless asked for: they build a 6 GB image (not in `make test` or CI)."""
    if opted_in(config):
        return
    skip = pytest.mark.skip(
        reason=f"builds the 6 GB image: run `pytest -m docker tests/deploy` (or set {OPT_IN}=1) to include it"
    )
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.add_marker(skip)
