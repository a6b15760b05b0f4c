"""Credential headers: which they are, how logs and reprs hide them, and how tracebacks forget them."""

from __future__ import annotations

import contextlib
import dis
import inspect
import sys
from types import FrameType, TracebackType
from typing import Dict, List, Optional, Set, Union

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


def forget_locals(error: BaseException) -> None:
    """Clears the local variables of the finished frames in the tracebacks of `error` and of the
    exceptions chained to it (`__cause__`, `__context__`).

    Called on the exceptions an HTTP library raises from inside a send: its frames (and those of the
    SDK's socket wrappers) held the request's headers, the bytes on the wire and connection state, key
    included, and error trackers (Sentry), `rich` and `traceback` print frame locals. A cleared frame
    keeps its file and line. Frames still running (the sender's own and those above it) are left as
    they are. A generator or coroutine frame that may be suspended (an exception object raised again
    carries the frames of its earlier trips) is taken out of the traceback instead: clearing it would
    close its generator.
    """
    seen: Set[int] = set()
    pending: List[BaseException] = [error]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.__traceback__ = _cleared(exc.__traceback__)
        pending.extend(linked for linked in (exc.__cause__, exc.__context__) if linked is not None)


_GENERATOR_FLAGS = (
    inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
)
_YIELDS = frozenset(dis.opmap[name] for name in ("YIELD_VALUE", "YIELD_FROM") if name in dis.opmap)


def _may_be_suspended(frame: FrameType) -> bool:
    """False when `frame` is certainly not a suspended generator or coroutine. A suspended one stopped
    at a yield (on Python 3.10, just before its YIELD_FROM); Python 3.13 refuses to clear one anyway."""
    if not frame.f_code.co_flags & _GENERATOR_FLAGS or sys.version_info >= (3, 13):
        return False
    code, at = frame.f_code.co_code, frame.f_lasti
    return at < 0 or code[at] in _YIELDS or (at + 2 < len(code) and code[at + 2] in _YIELDS)


def _cleared(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """`tb` with its finished frames cleared and its possibly suspended generator frames left out."""
    head, previous = tb, None
    while tb is not None:
        if _may_be_suspended(tb.tb_frame):
            if previous is None:
                head = tb.tb_next
            else:
                previous.tb_next = tb.tb_next
        else:
            with contextlib.suppress(RuntimeError):  # a frame still running
                tb.tb_frame.clear()
            previous = tb
        tb = tb.tb_next
    return head
