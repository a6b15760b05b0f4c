"""Preparing a call before any I/O: an operation, its arguments and `CallOptions` in, a `Call` out.

`Preparer.prepare` checks every argument (raising `errors.RequestValidationError` naming it), encodes
the body, picks the key for the operation's security scheme, and sets the headers (version pin,
idempotency key, the caller's own), the URL, the attempt timeout and the retry policy.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Mapping, Optional

import httpx
import pydantic_core

from meterly import errors
from meterly._config import (
    USER_AGENT,
    SDKConfiguration,
    check_server_url,
    exposed_host,
    is_header_safe,
    timeout_from_ms,
)
from meterly._declaration import BODY_KEY, Operation, SecurityScheme
from meterly._hooks import HookContext
from meterly._idempotency import new_idempotency_key
from meterly._logging import logger
from meterly._options import CallOptions
from meterly._wire import Call
from meterly.types import UNSET
from meterly.utils.retries import RetryConfig

__all__ = ["EncodedArray", "Preparer"]


class EncodedArray(bytes):
    """An array body that the SDK encoded itself from items it had already checked (the usage outbox's
    `batch_track` batches, each item checked as its event was queued): sent as it is, neither checked
    nor encoded a second time. Only the SDK builds one."""


_BASE_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "user-agent": USER_AGENT,
}
_MAX_IDEMPOTENCY_KEY_LENGTH = 255
_MAX_TARGETS = 64
"""Cached (operation, server) targets before the cache is emptied: per-call `server_url`s keep coming."""

# One encoder for every call: `json.dumps` with options builds a new JSONEncoder each time.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
# A body of checked scalars only (no `properties`: str without control characters, bool, int, finite
# float), encoded in compiled code. It reads back as exactly the values given; only a float's exponent
# may be spelled differently from the json module's (1e-8, not 1e-08).
_encode_scalars: Callable[[Dict[str, Any]], bytes] = pydantic_core.to_json


class Preparer:
    """Turns one client's calls into `Call`s; holds what is worth keeping between calls (parsed URLs,
    the hosts already warned about, the last key that passed its checks)."""

    def __init__(self, config: SDKConfiguration) -> None:
        self.config = config
        self._targets: Dict[tuple[str, str], tuple[httpx.URL, HookContext]] = {}
        self._warned_hosts: set[str] = set()
        self._checked_key: Optional[str] = None

    def prepare(self, op: Operation[Any], args: Mapping[str, Any], *, options: CallOptions) -> Call:
        """Check every argument and build the body and headers; raises RequestValidationError.

        `args` holds the body parameters by Python name (a resource method passes its `locals()`).
        """
        body: Dict[str, Any] = {}
        scalars = True
        params = op.compiled
        if params is None:
            params = op.compile()
        if op.array_body is not None:
            return self._prepare(op, args, _array_content(op, args), options)
        for name, key, check, required, nested in params:
            value = args[name]
            if value is None:
                if required:
                    raise errors.RequestValidationError(name, "is required")
                continue
            body[key] = check(name, value)
            if nested:
                scalars = False
        if op.exactly_one_of:
            _check_exactly_one(op.exactly_one_of, args)
        for key, default, other in op.unsent_defaults:
            if other in body and body.get(key) == default:
                del body[key]
        if scalars:
            content = _encode_scalars(body)
        else:
            try:
                content = _encode_json(body).encode()
            except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                problem = f"must be JSON-serializable: {exc}"
                raise errors.RequestValidationError("properties", problem) from None
        return self._prepare(op, args, content, options)

    def _prepare(
        self, op: Operation[Any], args: Mapping[str, Any], content: bytes, options: CallOptions
    ) -> Call:
        """The call around an encoded body: key, headers, URL, timeout and retry policy."""
        idempotency_key = options.idempotency_key
        if idempotency_key is None:
            idempotency_key = new_idempotency_key()
        elif (
            not isinstance(idempotency_key, str)
            or not idempotency_key
            or len(idempotency_key) > _MAX_IDEMPOTENCY_KEY_LENGTH
            or not is_header_safe(idempotency_key)
        ):
            raise errors.RequestValidationError(
                "idempotency_key",
                "must be a non-empty ASCII str of at most 255 characters, no control characters",
            )

        secret = self._secret(op.security)
        headers = {
            **_BASE_HEADERS,
            op.security.header: op.security.prefix + secret,
            "idempotency-key": idempotency_key,
        }
        config = self.config
        if op.version_header is not None:
            header, default = op.version_header
            headers[header] = config.api_versions.get(op.resource, default)
        http_headers = options.http_headers
        if http_headers is not None:
            headers.update(checked_headers(http_headers))

        server_url = options.server_url
        if server_url is not None:
            base_url = check_server_url("server_url", server_url)
        else:
            base_url = config.server_urls.get(op.resource, config.server_url)
        timeout_ms = options.timeout_ms
        if timeout_ms is not None:
            timeout: Any = timeout_from_ms("timeout_ms", timeout_ms)
        else:
            timeout = config.timeout or httpx.USE_CLIENT_DEFAULT
        retries = options.retries
        if retries is UNSET:
            retry_config = config.retry_config
        elif retries is None or isinstance(retries, RetryConfig):
            retry_config = retries
        else:
            raise errors.RequestValidationError(
                "retries", "must be a RetryConfig, None (never retry) or UNSET"
            )
        url, ctx = self._target(op.operation_id, base_url, op.path)
        return Call(op, args, content, headers, url, timeout, retry_config, secret, ctx)

    def _target(self, operation_id: str, base_url: str, path: str) -> tuple[httpx.URL, HookContext]:
        """The parsed URL and hook context of an operation on a server, built once and cached."""
        key = (operation_id, base_url)
        target = self._targets.get(key)
        if target is None:
            if len(self._targets) > _MAX_TARGETS:
                self._targets.clear()
            url = httpx.URL(base_url + path)
            self._warn_if_exposed(url)
            target = self._targets[key] = (url, HookContext(operation_id, base_url, self.config))
        return target

    def _warn_if_exposed(self, url: httpx.URL) -> None:
        """Warns once per host when a key would travel in clear text (plain http off this machine)."""
        host = exposed_host(url)
        if host is not None and host not in self._warned_hosts:
            self._warned_hosts.add(host)
            logger.warning(
                "sending the API key over plain http to %s: anyone on the network can read it; use https://",
                host,
            )

    def _secret(self, scheme: SecurityScheme) -> str:
        """The key for `scheme`: from `security` when it sets one, else `api_key` (or its env var)."""
        key: Any = None
        security = self.config.security
        if security is not None:
            from meterly.models.security import Security  # loaded only by clients that pass `security`

            if not isinstance(security, Security):
                security = security()
            if not isinstance(security, Security):
                raise errors.RequestValidationError("security", "the callable must return a models.Security")
            key = getattr(security, scheme.attribute)
        if not key:
            key = self.config.api_key
            if key is not None and not isinstance(key, str):
                key = key()
        if not key:
            raise errors.RequestValidationError(
                "api_key",
                f"no API key for {scheme.attribute}: pass api_key=... (or security=...) to the client, "
                "or set the METERLY_API_KEY environment variable",
            )
        if key is not self._checked_key:
            if not isinstance(key, str) or not is_header_safe(key):
                raise errors.RequestValidationError(
                    "api_key", "must be an ASCII str without control characters"
                )
            self._checked_key = key
        checked: str = key
        return checked


def _check_exactly_one(names: tuple[str, ...], args: Mapping[str, Any]) -> None:
    given = [name for name in names if args.get(name) is not None]
    if len(given) != 1:
        listed = " and ".join(f"`{name}`" for name in names)
        problem = f"give exactly one of {listed}" + (f", not {len(given)}" if given else "")
        raise errors.RequestValidationError(given[1] if len(given) > 1 else names[0], problem)


def _array_content(op: Operation[Any], args: Mapping[str, Any]) -> bytes:
    """An array body, each item checked; under `dedup="body_key"` an item without its key gets a fresh
    one here, once per call, so every retry resends the same keys."""
    ((name, _, check, _, _),) = op.params
    value = args[name]
    if value is None:
        raise errors.RequestValidationError(name, "is required")
    if isinstance(value, EncodedArray):
        return value
    items: List[Dict[str, Any]] = check(name, value)
    if op.dedup == "body_key":
        for item in items:
            if item.get(BODY_KEY) is None:
                item[BODY_KEY] = new_idempotency_key()
    try:
        return _encode_json(items).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise errors.RequestValidationError(name, f"must be JSON-serializable: {exc}") from None


def checked_headers(http_headers: Mapping[str, str]) -> Dict[str, str]:
    """A call's `http_headers`, names lower-cased; raises RequestValidationError for one that could not
    be sent as it is (not ASCII, a control character, a name with `:` or a space)."""
    if not isinstance(http_headers, Mapping):
        problem = f"must be a dict of header names to values, got {type(http_headers).__name__}"
        raise errors.RequestValidationError("http_headers", problem)
    checked: Dict[str, str] = {}
    for name, value in http_headers.items():
        if not isinstance(name, str) or not name or not is_header_safe(name) or ":" in name or " " in name:
            raise errors.RequestValidationError("http_headers", f"invalid header name {errors.shown(name)}")
        if not isinstance(value, str) or not is_header_safe(value):
            raise errors.RequestValidationError(
                "http_headers", f"the value of {name!r} must be an ASCII str without control characters"
            )
        checked[name.lower()] = value
    return checked
