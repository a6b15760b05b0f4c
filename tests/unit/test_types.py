"""The package `meterly.types`: `UNSET` at no cost, the pydantic-based names loaded on first access."""

from __future__ import annotations

import subprocess
import sys

import pytest

import meterly.types
from meterly.types import basemodel


def test_the_pydantic_based_names_are_basemodels() -> None:
    for name in ("BaseModel", "Nullable", "OptionalNullable", "UnrecognizedStr"):
        assert getattr(meterly.types, name) is getattr(basemodel, name)


def test_dir_lists_the_public_names() -> None:
    assert dir(meterly.types) == sorted(meterly.types.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'Missing'"):
        meterly.types.Missing  # noqa: B018


def test_importing_unset_does_not_load_basemodel() -> None:
    code = "import sys; from meterly.types import UNSET; print('meterly.types.basemodel' in sys.modules)"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout == "False\n"
