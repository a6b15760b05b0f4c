"""`CallOptions`: the per-call options every operation takes besides its body, as one object."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Optional, Union

from meterly.types import UNSET, Unset
from meterly.utils.retries import RetryConfig

Retries = Union[RetryConfig, None, Unset]


class CallOptions:
    """`idempotency_key`, `retries`, `server_url`, `timeout_ms` and `http_headers` of one call.

    Built keyword-only, so no option can take another's place; checked by `Pipeline.prepare`.
    """

    __slots__ = ("http_headers", "idempotency_key", "retries", "server_url", "timeout_ms")

    NAMES = frozenset(__slots__)
    """The names of the options, as the resource methods take them."""

    DOCS: ClassVar[Dict[str, str]] = {
        "idempotency_key": "Sent as `Idempotency-Key`, the same on every retry (default: a new UUID4).",
        "retries": "This call's retry policy; UNSET uses the client's, None never retries.",
        "server_url": "This call's server, instead of the client's.",
        "timeout_ms": "This call's per-attempt timeout, in milliseconds.",
        "http_headers": "Headers to add or replace on this call.",
    }
    """The `Args:` line of each option in the resource methods' docstrings (`scripts/gen_code.py`)."""

    def __init__(
        self,
        *,
        idempotency_key: Optional[str] = None,
        retries: Retries = UNSET,
        server_url: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        http_headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.idempotency_key = idempotency_key
        self.retries = retries
        self.server_url = server_url
        self.timeout_ms = timeout_ms
        self.http_headers = http_headers

    def __repr__(self) -> str:
        # http_headers may carry credentials: only their names are shown.
        headers = None if self.http_headers is None else sorted(self.http_headers)
        return (
            f"CallOptions(idempotency_key={self.idempotency_key!r}, retries={self.retries!r}, "
            f"server_url={self.server_url!r}, timeout_ms={self.timeout_ms!r}, http_headers={headers!r})"
        )


_NO_OPTIONS = CallOptions()


def options_of(
    arguments: Mapping[str, Any], _unset: Any = UNSET, _no_options: CallOptions = _NO_OPTIONS
) -> CallOptions:
    """The options among a resource method's arguments (its `locals()`).

    Most calls set none: they share one instance, so reading them allocates nothing (the defaults bind
    the constants as locals: this runs on every call).
    """
    idempotency_key = arguments["idempotency_key"]
    retries = arguments["retries"]
    server_url = arguments["server_url"]
    timeout_ms = arguments["timeout_ms"]
    http_headers = arguments["http_headers"]
    if (
        idempotency_key is None
        and retries is _unset
        and server_url is None
        and timeout_ms is None
        and http_headers is None
    ):
        return _no_options
    return CallOptions(
        idempotency_key=idempotency_key,
        retries=retries,
        server_url=server_url,
        timeout_ms=timeout_ms,
        http_headers=http_headers,
    )
