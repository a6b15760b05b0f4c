"""Credential headers: which they are, and how logs and reprs hide them."""

from __future__ import annotations

from typing import Dict, Union

import httpx

REDACTED = "[REDACTED]"
SECURITY_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization", "cookie", "set-cookie"})


def redact_headers(headers: httpx.Headers) -> Dict[str, str]:
    """The headers as a dict, with every security header's value replaced by `[REDACTED]`."""
    return {name: REDACTED if name in SECURITY_HEADERS else value for name, value in headers.items()}


class CredentialSafeHeaders(httpx.Headers):
    """`httpx.Headers` whose repr hides every security header (httpx's own hides only `authorization`
    and `proxy-authorization`, so a printed request would show its `x-api-key`). Values are still read
    as usual: `headers["x-api-key"]`."""

    def __repr__(self) -> str:
        items = [(key, REDACTED if key in SECURITY_HEADERS else value) for key, value in self.multi_items()]
        as_dict = dict(items)
        return f"Headers({as_dict!r})" if len(as_dict) == len(items) else f"Headers({items!r})"


def hide_credentials(message: Union[httpx.Request, httpx.Response]) -> None:
    """Gives `message` (and a response's request) headers whose repr hides credentials; for the httpx
    objects the SDK hands out in errors and raw responses, never on the hot path."""
    if not isinstance(message.headers, CredentialSafeHeaders):  # each object is wrapped once
        message.headers = CredentialSafeHeaders(message.headers)
    if isinstance(message, httpx.Response):
        try:
            request = message.request
        except RuntimeError:  # a response built without a request
            return
        hide_credentials(request)
