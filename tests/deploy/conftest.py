"""Markers and shared fixtures of the deployment tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``docker`` marker (tests that need a Docker engine that answers)."""
    config.addinivalue_line("markers", "docker: needs a Docker engine that answers; skipped without one")
