"""Checks of text that ends up in headers and in the services' logs: the lowest layer, imports nothing."""

from __future__ import annotations

import re

_CONTROL_CHARS = "[\x00-\x1f\x7f-\x9f\ud800-\udfff]"
"""Compiled by `re` (and kept in its cache) at the first value that is not ASCII, not at import: most
processes never see one."""


def has_control_chars(value: str) -> bool:
    """True when `value` holds CR, LF or another control character (header injection, log forging).

    C1 controls (U+0080 to U+009F) and lone surrogates (which no encoder accepts) count too.
    """
    if value.isascii():  # there, non-printable means a control character, at about half a search's cost
        return not value.isprintable()
    return re.search(_CONTROL_CHARS, value) is not None


def is_header_safe(value: str) -> bool:
    """True when `value` can go in an HTTP header as is: ASCII, without control characters."""
    return value.isascii() and value.isprintable()
