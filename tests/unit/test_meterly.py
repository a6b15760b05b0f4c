"""The package `meterly`: its public names, and `FailOpenPolicy` loaded only when first named."""

from __future__ import annotations

import subprocess
import sys

import pytest

import meterly


def test_every_public_name_is_importable_from_the_package() -> None:
    for name in meterly.__all__:
        assert getattr(meterly, name) is not None


def test_fail_open_policy_is_the_fail_open_modules() -> None:
    from meterly._fail_open import FailOpenPolicy

    assert meterly.FailOpenPolicy is FailOpenPolicy


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'nothing_here'"):
        meterly.nothing_here  # noqa: B018


def test_importing_meterly_does_not_load_fail_open() -> None:
    code = "import sys, meterly; print('meterly._fail_open' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        == "False\n"
    )
