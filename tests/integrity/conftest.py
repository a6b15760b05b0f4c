"""The integrity tests' marker: `storm` runs thousands-of-writes sized down for the suite."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "storm: a fault storm through the proxy (small in the suite)")
