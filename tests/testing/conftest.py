"""The inner pytest runs of these tests load the development environment's pytest-asyncio, which warns
about an unset `asyncio_default_fixture_loop_scope` in every run that does not set it: set it, so a
passing run prints no warnings that are not the plugin's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quiet_inner_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts: set it after
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
