"""Credential headers: redacted in dicts and reprs, and forgotten by tracebacks' frames."""

from __future__ import annotations

from types import FrameType
from typing import List, Optional

import httpx

from meterly._redaction import (
    REDACTED,
    SECURITY_HEADERS,
    CredentialSafeHeaders,
    forget_locals,
    hide_credentials,
    redact_headers,
)

SECRET = "sk_secret_0123"


def test_redact_headers_hides_every_security_header_and_keeps_the_rest() -> None:
    headers = httpx.Headers(
        {name: SECRET for name in SECURITY_HEADERS} | {"content-type": "application/json"}
    )
    redacted = redact_headers(headers)
    assert {redacted[name] for name in SECURITY_HEADERS} == {REDACTED}
    assert redacted["content-type"] == "application/json"


def test_credential_safe_headers_hide_the_api_key_in_their_repr_but_not_on_read() -> None:
    headers = CredentialSafeHeaders({"x-api-key": SECRET, "accept": "application/json"})
    assert SECRET not in repr(headers)
    assert "'accept': 'application/json'" in repr(headers)
    assert headers["x-api-key"] == SECRET


def test_a_repeated_header_is_shown_as_a_list_of_pairs() -> None:
    headers = CredentialSafeHeaders([("cookie", SECRET), ("cookie", SECRET)])
    assert repr(headers) == f"Headers({[('cookie', REDACTED), ('cookie', REDACTED)]!r})"


def test_hide_credentials_covers_a_response_and_its_request() -> None:
    request = httpx.Request("POST", "https://api.meterly.dev", headers={"x-api-key": SECRET})
    response = httpx.Response(200, request=request, headers={"set-cookie": SECRET})
    hide_credentials(response)
    assert SECRET not in repr(response.headers)
    assert SECRET not in repr(response.request.headers)


def test_hide_credentials_accepts_a_response_built_without_a_request() -> None:
    response = httpx.Response(200, headers={"set-cookie": SECRET})
    hide_credentials(response)
    assert isinstance(response.headers, CredentialSafeHeaders)


def test_hide_credentials_wraps_each_message_once() -> None:
    request = httpx.Request("GET", "https://api.meterly.dev", headers={"x-api-key": SECRET})
    hide_credentials(request)
    wrapped = request.headers
    hide_credentials(request)
    assert request.headers is wrapped


def _raise_with_key_in_locals() -> None:
    api_key = SECRET  # noqa: F841 (the local the traceback would show)
    raise ValueError("boom")


def _frames(error: BaseException) -> List[FrameType]:
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def test_forget_locals_clears_finished_frames_of_the_error_and_its_chain() -> None:
    caught: Optional[BaseException] = None
    try:
        try:
            _raise_with_key_in_locals()
        except ValueError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as error:
        caught = error
    assert caught is not None
    assert caught.__cause__ is not None
    (raising,) = [f for f in _frames(caught.__cause__) if f.f_code.co_name == "_raise_with_key_in_locals"]
    assert raising.f_locals["api_key"] == SECRET
    forget_locals(caught)
    assert "api_key" not in raising.f_locals
    assert raising.f_code.co_name == "_raise_with_key_in_locals"  # the frame keeps its place
