"""Checks of text bound for headers and logs: control characters and non-ASCII."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterly._text import has_control_chars, is_header_safe

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""What counts as a control character, spelled out once more: the fast path must agree with it."""


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "\x00", "\x7f", "\x85", "\ud800"])
def test_control_characters_and_lone_surrogates_are_found(value: str) -> None:
    assert has_control_chars(value)
    assert not is_header_safe(value)


def test_plain_text_has_no_control_characters() -> None:
    assert not has_control_chars("cus_123 é")


def test_non_ascii_text_is_not_header_safe() -> None:
    assert not is_header_safe("cus_é")


def test_printable_ascii_is_header_safe() -> None:
    assert is_header_safe("Bearer sk_test_0123-._~")


def test_every_ascii_character_is_judged_as_the_full_check_judges_it() -> None:
    for code in range(128):
        text = f"cus_{chr(code)}_1"
        assert has_control_chars(text) == (CONTROL.search(text) is not None), code
        assert is_header_safe(text) == (CONTROL.search(text) is None), code


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40))
def test_any_text_is_judged_as_the_full_check_judges_it(text: str) -> None:
    assert has_control_chars(text) == (CONTROL.search(text) is not None)
    assert is_header_safe(text) == (text.isascii() and CONTROL.search(text) is None)
