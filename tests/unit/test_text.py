"""Checks of text bound for headers and logs: control characters and non-ASCII."""

from __future__ import annotations

import pytest

from meterly._text import has_control_chars, is_header_safe


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
