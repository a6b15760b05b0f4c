"""The package version: one string, the same one the package metadata and the user-agent carry."""

from __future__ import annotations

import re

import meterly
from meterly._config import USER_AGENT
from meterly._version import __version__


def test_the_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", __version__)


def test_the_package_exports_the_same_version() -> None:
    assert meterly.__version__ is __version__


def test_the_user_agent_carries_the_version() -> None:
    assert f"/{__version__} " in USER_AGENT
