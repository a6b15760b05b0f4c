"""The request pipeline: arguments in, typed result or typed error out, written once for both clients.

`Pipeline.prepare` checks and serializes a call before any I/O. `Pipeline.run` is a generator holding
the whole attempt loop (hooks, error mapping, retry decisions, fail-open); it yields an `httpx.Request`
when it needs one sent, a float when it needs that many seconds slept, and an `Awaiting` when an async
hook returned an awaitable (the async client awaits it; the sync client refuses it). The sync and async
clients only drive it: that is the only place where they differ.

While no hook or debug logger needs an `httpx.Request`, the pipeline yields the prepared `Call` itself
and the driver sends it however its backend does; it may answer with a `Received`, so an httpx request
or response is built only when something looks at it. The pipeline never knows which backend sends.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Generator, List, Mapping, Optional, TypeVar, Union

import httpx
import pydantic
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
from meterly._hooks import Awaiting, HookContext, SDKHooks
from meterly._logging import is_library_logger, logger
from meterly._operation import Operation, SecurityScheme
from meterly._options import CallOptions, Retries
from meterly._raw import RawResponse, raw_mode
from meterly._redaction import hide_credentials, redact_headers
from meterly._responses import error_from_response, parse_success
from meterly.types import UNSET
from meterly.utils.retries import RETRYABLE_STATUS_CODES, RetryConfig, retry_after_seconds, retry_delay

if TYPE_CHECKING:
    from meterly._fail_open import Circuit, FailOpen, LastKnownKey
    from meterly.models._fallback import FallbackReason

T = TypeVar("T")

Effect = Union[httpx.Request, "Call", float, Awaiting]
"""What the pipeline asks its driver for: send this request (or prepared call), sleep this long
(a `Pause` when the circuit breaker may cut the sleep short), or await what an async hook returned."""

TIME_LEFT = "meterly.time_left"
"""The request extension that tells a non-httpx sender how many seconds are left of the call's deadline
when the request carries no timeout of its own (so the sender's default applies, cut to that)."""

_MIN_ATTEMPT = 0.001
"""The shortest timeout an attempt is given (a zero or negative one would not mean "no time left")."""


class Pause(float):
    """Seconds to sleep before a retry, cut short when `circuit` opens (`Circuit.sleep` / `asleep`)."""

    __slots__ = ("circuit",)

    circuit: Circuit

    def __new__(cls, seconds: float, circuit: Circuit) -> Pause:
        pause = super().__new__(cls, seconds)
        pause.circuit = circuit
        return pause


__all__ = ["Call", "CallOptions", "Effect", "Pipeline", "Received", "Retries", "httpx_request"]

_BASE_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "user-agent": USER_AGENT,
}
_MAX_IDEMPOTENCY_KEY_LENGTH = 255

# One encoder for every call: `json.dumps` with options builds a new JSONEncoder each time.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
# A body of checked scalars only (no `properties`: str without control characters, bool, int, finite
# float), encoded in compiled code. It reads back as exactly the values given; only a float's exponent
# may be spelled differently from the json module's (1e-8, not 1e-08).
_encode_scalars: Callable[[Dict[str, Any]], bytes] = pydantic_core.to_json


_RANDOM_READ = 4096
_random_blocks: List[bytes] = []
"""16-byte blocks of one `os.urandom` read, each used for one key (list.pop hands a block to one thread)."""


def new_idempotency_key() -> str:
    """A random UUID4 string, as `str(uuid.uuid4())` gives, at a fraction of its cost.

    The randomness is `os.urandom`'s, read 4 KiB at a time: one system call per 256 keys. Inside a busy
    event loop a system call costs several times what a microbenchmark shows (the code after it runs
    with cold caches). A forked child drops the blocks it inherited, so parent and child never share keys.
    """
    try:
        block = _random_blocks.pop()
    except IndexError:
        data = os.urandom(_RANDOM_READ)
        _random_blocks.extend([data[i : i + 16] for i in range(16, _RANDOM_READ, 16)])
        block = data[:16]
    h = block.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random_blocks.clear)


class Call:
    """One prepared call: everything decided before the first attempt, reused by every retry."""

    __slots__ = (
        "args",
        "body",
        "ctx",
        "headers",
        "op",
        "raw",
        "retry_config",
        "secret",
        "time_left",
        "timeout",
        "url",
    )

    op: Operation[Any]
    url: httpx.URL

    def __init__(
        self,
        op: Operation[Any],
        args: Mapping[str, Any],
        body: bytes,
        headers: Dict[str, str],
        url: httpx.URL,
        timeout: Union[httpx.Timeout, Any],
        retry_config: Optional[RetryConfig],
        secret: str,
        ctx: HookContext,
    ) -> None:
        self.op = op
        self.args = args
        self.body = body
        self.headers = headers
        self.url = url
        self.timeout = timeout
        self.retry_config = retry_config
        self.secret = secret
        self.ctx = ctx
        self.raw = raw_mode.get()
        self.time_left: Optional[float] = None
        """Seconds left of the call's deadline as the current attempt starts; None: no deadline."""

    def to_request(self) -> httpx.Request:
        """This call as an `httpx.Request`, for a backend that has no httpx client to build one."""
        extensions = {"timeout": self.timeout.as_dict()} if isinstance(self.timeout, httpx.Timeout) else {}
        return httpx.Request(
            self.op.method, self.url, content=self.body, headers=self.headers, extensions=extensions
        )


def httpx_request(client: Union[httpx.Client, httpx.AsyncClient], call: Call) -> httpx.Request:
    """`call` as a request of `client`, with the client's own defaults merged in."""
    return client.build_request(
        call.op.method, call.url, content=call.body, headers=call.headers, timeout=call.timeout
    )


class Received:
    """A response as a non-httpx driver read it; the `httpx.Response` is built only when one is needed."""

    __slots__ = ("content", "headers", "request", "status_code")

    def __init__(
        self,
        status_code: int,
        content: bytes,
        headers: Any,
        request: Union[httpx.Request, Call],
    ) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers  # anything `httpx.Headers` accepts; a decoded body has no content-encoding
        self.request = request

    def to_httpx(self) -> httpx.Response:
        """The same response as an `httpx.Response` (what hooks, errors and RawResponse hold)."""
        request = self.request if isinstance(self.request, httpx.Request) else self.request.to_request()
        return httpx.Response(self.status_code, headers=self.headers, content=self.content, request=request)


class Pipeline:
    """Everything between a resource method and the HTTP client, for one SDK client."""

    def __init__(self, config: SDKConfiguration, hooks: SDKHooks) -> None:
        self.config = config
        self.hooks = hooks
        self.clock: Callable[[], float] = time.monotonic
        self.random: Callable[[], float] = random.random
        self._targets: Dict[tuple[str, str], tuple[httpx.URL, HookContext]] = {}
        self._warned_hosts: set[str] = set()
        policy = config.fail_open_policy
        self.fail_open: Optional[FailOpen] = None
        if policy is not None:
            from meterly._fail_open import FailOpen  # loaded only by clients that fail open

            self.fail_open = FailOpen(policy)
        self._checked_key: Optional[str] = None  # the last key that passed `_secret`'s checks

    # -- before I/O -------------------------------------------------------------------------------

    def prepare(self, op: Operation[T], args: Mapping[str, Any], *, options: CallOptions) -> Call:
        """Check every argument and build the body and headers; raises RequestValidationError.

        `args` holds the body parameters by Python name (a resource method passes its `locals()`).
        """
        body: Dict[str, Any] = {}
        scalars = True
        params = op.compiled
        if params is None:
            params = op.compile()
        for name, key, check, required, nested in params:
            value = args[name]
            if value is None:
                if required:
                    raise errors.RequestValidationError(name, "is required")
                continue
            body[key] = check(name, value)
            if nested:
                scalars = False
        if scalars:
            content = _encode_scalars(body)
        else:
            try:
                content = _encode_json(body).encode()
            except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                problem = f"must be JSON-serializable: {exc}"
                raise errors.RequestValidationError("properties", problem) from None

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
            headers.update(_checked_headers(http_headers))

        server_url = options.server_url
        if server_url is not None:
            base_url = check_server_url("server_url", server_url)
        else:
            base_url = config.server_urls.get(op.resource, config.server_url)
        timeout_ms = options.timeout_ms
        if timeout_ms is not None:
            timeout: Any = timeout_from_ms("timeout_ms", timeout_ms)
        else:
            timeout = self.config.timeout or httpx.USE_CLIENT_DEFAULT
        retries = options.retries
        if retries is UNSET:
            retry_config = self.config.retry_config
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
            if len(self._targets) > 64:  # per-call server_url values: keep the cache bounded
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
            from meterly.models.security import Security

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

    # -- the attempt loop ---------------------------------------------------------------------------

    def run(self, call: Call, build_request: Callable[[Call], httpx.Request]) -> Generator[Effect, Any, Any]:
        """Attempts until a result, a final error, or a fail-open fallback; see the module docstring.

        `build_request` turns the call into the driver's `httpx.Request` when a hook, the debug log or a
        retry's cut timeouts need one; otherwise the driver gets the `Call` to send as it likes.
        """
        hooks = self.hooks
        started = self.clock()
        # An operation without a fallback (a write) is never answered by fail-open, nor counted by it.
        fail_open = self.fail_open if call.op.fallback is not None else None
        circuit: Optional[Circuit] = None  # the circuit that may answer for this call
        if fail_open is not None and not call.raw:
            circuit = fail_open.circuit(call.op.operation_id)
            if not circuit.admit(started):
                return self._fallback(call, "circuit_open")
        # One deadline for the whole call: the first attempt runs with its own timeout, every later one
        # is cut to what is left of `max_elapsed_time` (a retry only starts before it).
        config = call.retry_config
        deadline = started + config.backoff.max_elapsed_time / 1000 if config is not None else None
        attempt = 0
        previous: Optional[BaseException] = None  # the error of the attempt before this one
        while True:
            attempt += 1
            cut = False
            log_attempt = self.config.debug_logger is not None or logger.isEnabledFor(logging.DEBUG)
            request: Union[httpx.Request, Call]
            if not hooks.before_request_hooks and not log_attempt and (attempt == 1 or deadline is None):
                request = call
            else:
                request = build_request(call)
                if hooks.before_request_hooks:
                    request = yield from hooks.before_request(call.ctx, request)
            if attempt > 1 and deadline is not None:
                cut = _cut_to(call, request, deadline - self.clock())
            sent_at = self.clock()
            try:
                response: Union[httpx.Response, Received] = yield request
            except httpx.RequestError as exc:
                response = None  # type: ignore[assignment]
                elapsed = self.clock() - sent_at
                outcome = self._on_transport_error(call, exc)
                if hooks.after_error_hooks:
                    outcome = yield from self._after_error(call, None, outcome, 0.0)
            else:
                elapsed = self.clock() - sent_at
                if hooks.after_success_hooks or hooks.after_error_hooks:
                    outcome = yield from self._on_response_with_hooks(call, response, elapsed)
                else:
                    outcome = self._on_response(call, response, elapsed)
            if log_attempt:
                assert isinstance(request, httpx.Request)  # built above whenever an attempt is logged
                self._log_attempt(call, request, response, outcome, attempt, elapsed)
            if not isinstance(outcome, BaseException):
                if fail_open is not None:
                    fail_open.circuit(call.op.operation_id).succeeded()
                    # A 202 is the service's own fail-open guess, not an answer worth serving later.
                    if fail_open.last_known is not None and not call.raw and not _is_degraded(outcome):
                        key = _last_known_key(call)
                        if key is not None:
                            fail_open.last_known.remember(key, outcome, self.clock())
                return outcome
            if cut and previous is not None and isinstance(outcome, errors.APITimeoutError):
                outcome = previous  # the call's deadline, not the service, ended this attempt
            previous = outcome
            reason: Optional[FallbackReason] = None
            if fail_open is not None:
                # Every failed attempt counts, so concurrent calls open the circuit together.
                reason = _fallback_reason(outcome)
                if reason is None:
                    fail_open.circuit(call.op.operation_id).succeeded()  # the service answered
                else:
                    fail_open.circuit(call.op.operation_id).failed(
                        self.clock(), reason, outcome, fail_open.answers
                    )
                    if circuit is not None and circuit.is_open:
                        return self._fallback(call, reason, outcome)
            delay = self._retry_delay(call, attempt, outcome, self.clock() - started)
            if delay is None:
                if isinstance(outcome, errors.MeterlyError):  # what the error says about its call
                    outcome.attempts, outcome.elapsed = attempt, self.clock() - started
                return self._give_up(call, outcome, reason)
            if circuit is None or reason is None:
                yield delay
                continue
            yield Pause(delay, circuit)  # woken early when the circuit opens
            if not circuit.admit(self.clock()):
                return self._fallback(call, reason, outcome)

    def _on_response(self, call: Call, response: Union[httpx.Response, Received], elapsed: float) -> Any:
        op = call.op
        if isinstance(response, Received):
            # Only a 200 takes the short path: a 202 (degraded) is marked by parse_success below.
            if response.status_code == 200 and not call.raw:
                try:
                    return op.parse(response.content)
                except pydantic.ValidationError:
                    pass  # the path below builds the ResponseValidationError around an httpx.Response
            response = response.to_httpx()
        if 200 <= response.status_code < 300:
            return self._success(call, response, elapsed)
        return error_from_response(op.operation_id, response, call.secret)

    def _on_response_with_hooks(
        self, call: Call, response: Union[httpx.Response, Received], elapsed: float
    ) -> Generator[Effect, Any, Any]:
        """`_on_response` for a client with after_success or after_error hooks."""
        if isinstance(response, Received):
            response = response.to_httpx()
        if 200 <= response.status_code < 300:
            if self.hooks.after_success_hooks:
                response = yield from self.hooks.after_success(call.ctx, response)
            return self._success(call, response, elapsed)
        error = error_from_response(call.op.operation_id, response, call.secret)
        if self.hooks.after_error_hooks:
            return (yield from self._after_error(call, response, error, elapsed))
        return error

    @staticmethod
    def _success(call: Call, response: httpx.Response, elapsed: float) -> Any:
        op = call.op
        if call.raw:
            return RawResponse(op.operation_id, response, op.parse, datetime.timedelta(seconds=elapsed))
        return parse_success(op.operation_id, op.parse, response)

    def _on_transport_error(self, call: Call, exc: httpx.RequestError) -> Any:
        op_id = call.op.operation_id
        with contextlib.suppress(RuntimeError):  # RuntimeError: an exception raised without a request
            hide_credentials(exc.request)  # the error's __cause__ carries the request
        error: errors.APIConnectionError
        if isinstance(exc, httpx.TimeoutException):
            error = errors.APITimeoutError(f"{op_id}: the attempt timed out ({type(exc).__name__})")
        else:
            error = errors.APIConnectionError(f"{op_id}: no response: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error

    def _after_error(
        self, call: Call, response: Optional[httpx.Response], error: Exception, elapsed: float
    ) -> Generator[Effect, Any, Any]:
        """Lets the after_error hooks replace the error, or recover with a response of their own."""
        response, replaced = yield from self.hooks.after_error(call.ctx, response, error)
        if replaced is not None:
            return replaced
        if response is None:
            return error
        if 200 <= response.status_code < 300:
            return self._success(call, response, elapsed)
        return error_from_response(call.op.operation_id, response, call.secret)

    def _retry_delay(self, call: Call, attempt: int, error: BaseException, elapsed: float) -> Optional[float]:
        config = call.retry_config
        if config is None:
            return None
        requested = None
        if isinstance(error, errors.APIConnectionError):
            retryable = config.retry_connection_errors
        elif isinstance(error, errors.APIError):
            retryable = error.status_code in RETRYABLE_STATUS_CODES
            requested = retry_after_seconds(error.headers)
        else:
            retryable = False
        return retry_delay(
            config, attempt, elapsed, retryable=retryable, requested=requested, rand=self.random
        )

    def _give_up(self, call: Call, error: BaseException, reason: Optional[FallbackReason]) -> Any:
        """Raise the final error, or answer the fallback when fail-open covers it (`reason` set).

        A 4xx or an unreadable 2xx is never masked; a raw-response call asked for the HTTP exchange
        itself, so it is never answered by a fallback either."""
        if reason is None or call.raw:
            raise error
        return self._fallback(call, reason, error)

    def _fallback(self, call: Call, reason: FallbackReason, error: Optional[BaseException] = None) -> Any:
        """The fail-open answer for `call`: its last-known answer when the policy keeps them, else
        allowed or denied by the policy for its feature. `error` is the failure it answers for."""
        fail_open = self.fail_open
        op = call.op
        assert fail_open is not None
        assert op.fallback is not None  # `run` never answers fail-open for an operation without one
        now = self.clock()
        if error is not None:
            fail_open.circuit(op.operation_id).answered_fallback(now, reason, error, fail_open.answers)
        key = _last_known_key(call) if fail_open.last_known is not None else None
        feature = call.args.get(op.feature_param)
        return fail_open.fallback(op.fallback, call.args, feature, reason, key, now)

    def _log_attempt(
        self,
        call: Call,
        request: httpx.Request,
        response: Union[httpx.Response, Received, None],
        outcome: Any,
        attempt: int,
        elapsed: float,
    ) -> None:
        debug_logger = self.config.debug_logger
        targets = [logger] if logger.isEnabledFor(logging.DEBUG) else []
        if debug_logger is not None and debug_logger.isEnabledFor(logging.DEBUG):
            if is_library_logger(debug_logger):
                targets = [debug_logger]  # its records reach the `meterly` handlers: log them once
            else:
                targets.append(debug_logger)
        if not targets:
            return
        if isinstance(response, Received):
            response = response.to_httpx()
        if response is not None:
            status: Any = response.status_code
            request_id = response.headers.get("x-request-id")
        else:
            status, request_id = type(outcome).__name__, None
        headers = redact_headers(request.headers)
        for log in targets:
            log.debug(
                "%s %s attempt=%d status=%s elapsed_ms=%.1f request_id=%s headers=%s",
                request.method,
                request.url,
                attempt,
                status,
                elapsed * 1000,
                request_id,
                headers,
            )


def _fallback_reason(error: BaseException) -> Optional[FallbackReason]:
    """What a fail-open answer for `error` would say; None when fail-open never masks it."""
    if isinstance(error, errors.APITimeoutError):
        return "timeout"
    if isinstance(error, errors.APIConnectionError):
        return "connection"
    if isinstance(error, errors.InternalServerError):
        return "server_error"
    return None


def _is_degraded(result: Any) -> bool:
    return getattr(result, "is_degraded", False) is True


def _last_known_key(call: Call) -> Optional[LastKnownKey]:
    """Where a check's real answer is kept for fail-open; None for a call that records usage."""
    op, args = call.op, call.args
    if op.writes_with(args):
        return None
    return (op.operation_id, args.get("customer_id"), args.get(op.feature_param), args.get("entity_id"))


def _cut_to(call: Call, request: Union[httpx.Request, Call], left: float) -> bool:
    """Cuts this attempt's timeouts to the `left` seconds of the call's deadline; False when they all
    end before it anyway (True also when the sender's own default timeout is unknown here)."""
    left = max(left, _MIN_ATTEMPT)
    call.time_left = left
    if isinstance(request, Call):  # a non-httpx sender reads `time_left`
        timeout = call.timeout
        if not isinstance(timeout, httpx.Timeout):
            return True
        return any(value is None or value > left for value in timeout.as_dict().values())
    timeouts = request.extensions.get("timeout")
    if timeouts is None:
        request.extensions[TIME_LEFT] = left
        return True
    for value in timeouts.values():
        if value is None or value > left:
            request.extensions["timeout"] = {
                name: left if value is None or value > left else value for name, value in timeouts.items()
            }
            return True
    return False


def _checked_headers(http_headers: Mapping[str, str]) -> Dict[str, str]:
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
