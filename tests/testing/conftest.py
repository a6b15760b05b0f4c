"""The inner pytest runs of these tests load, by entry point, the meterly plugin and pytest-asyncio (which
warns about an unset `asyncio_default_fixture_loop_scope` in every run that does not set it: it is set,
so a passing run prints no warnings that are not the plugin's), and none of the development environment's
other plugins (see `tests/inner_pytest.py`)."""

from __future__ import annotations

import shlex

import pytest

from tests.inner_pytest import only_these_plugins

INNER_ADDOPTS = shlex.join(
    [*only_these_plugins("pytest-asyncio"), "-o", "asyncio_default_fixture_loop_scope=function"]
)


@pytest.fixture(autouse=True)
def _quiet_inner_runs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts: set it after
        monkeypatch.setenv("PYTEST_ADDOPTS", INNER_ADDOPTS)
