"""The attempt loop: one generator for both clients, from a prepared `Call` to a result or an error.

`AttemptLoop.run` holds hooks, error mapping, retry decisions, the call's deadline and fail-open. It does
no I/O: it yields a `Call` or an `httpx.Request` when it needs one sent (the driver sends back the
response, or throws in the `httpx.RequestError`), a float when it needs that many seconds slept (a
`Pause` when the circuit breaker may cut the sleep short), and an `Awaiting` when an async hook returned
an awaitable (the async client awaits it; the sync client refuses it). The sync and async clients only
drive it: that is the only place where they differ.

While no hook or debug logger needs an `httpx.Request`, the loop yields the prepared `Call` itself and
the driver sends it however its engine does; it may answer with a `Received`, so an httpx request or
response is built only when something looks at it. The loop never knows which engine sends.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Union

import httpx
import pydantic

from meterly import errors
from meterly._hooks import Awaiting, SDKHooks
from meterly._logging import is_library_logger, logger
from meterly._raw import RawResponse
from meterly._redaction import hide_credentials, redact_headers
from meterly._responses import error_from_response, is_the_services_json, parse_success
from meterly._wire import TIME_LEFT, Call, Received
from meterly.utils.retries import RETRYABLE_STATUS_CODES, retry_after_seconds, retry_delay

if TYPE_CHECKING:  # fail-open's state loads only for clients that fail open
    from meterly._fail_open import Circuit, FailOpen, LastKnownKey
    from meterly.models._fallback import FallbackReason

__all__ = ["AttemptLoop", "Effect", "Pause", "fallback_reason"]

Effect = Union[httpx.Request, Call, float, Awaiting]
"""What the loop asks its driver for: send this request (or prepared call), sleep this long (a `Pause`
when the circuit breaker may cut the sleep short), or await what an async hook returned."""

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


class AttemptLoop:
    """Attempts of calls until each has a result, a final error or a fail-open answer.

    `clock` (monotonic seconds) and `random` (in [0, 1), for backoff jitter) are attributes so that
    tests, and the pytest plugin's `without_waits`, can replace them.
    """

    def __init__(
        self,
        hooks: SDKHooks,
        *,
        fail_open: Optional[FailOpen] = None,
        debug_logger: Optional[logging.Logger] = None,
    ) -> None:
        self.hooks: SDKHooks = hooks
        self.fail_open: Optional[FailOpen] = fail_open
        self.debug_logger: Optional[logging.Logger] = debug_logger
        self.clock: Callable[[], float] = time.monotonic
        self.random: Callable[[], float] = random.random

    def run(self, call: Call, build_request: Callable[[Call], httpx.Request]) -> Generator[Effect, Any, Any]:
        """Attempts until a result, a final error, or a fail-open fallback; see the module docstring.

        `build_request` turns the call into the driver's `httpx.Request` when a hook, the debug log or a
        retry's cut timeouts need one; otherwise the driver gets the `Call` to send as it likes.
        """
        hooks, logs = self.hooks, self.debug_logger is not None
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
            log_attempt = logs or logger.isEnabledFor(logging.DEBUG)
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
                error = self._on_transport_error(call, exc)
                if hooks.after_error_hooks:
                    outcome = yield from self._after_error(call, None, error, 0.0)
                else:
                    outcome = error
            else:
                elapsed = self.clock() - sent_at
                if hooks.after_success_hooks or hooks.after_error_hooks:
                    outcome = yield from self._on_response_with_hooks(call, response, elapsed)
                else:
                    outcome = self._on_response(call, response, elapsed)
            if log_attempt:
                assert isinstance(request, httpx.Request)  # built above whenever an attempt is logged
                self._log_attempt(request, response, outcome, attempt, elapsed)
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
                reason = fallback_reason(outcome)
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

        A 4xx or the service's own JSON in the wrong shape is never masked; a raw-response call asked
        for the HTTP exchange itself, so it is never answered by a fallback either."""
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
        request: httpx.Request,
        response: Union[httpx.Response, Received, None],
        outcome: Any,
        attempt: int,
        elapsed: float,
    ) -> None:
        debug_logger = self.debug_logger
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


def fallback_reason(error: BaseException) -> Optional[FallbackReason]:
    """What a fail-open answer for `error` would say; None when fail-open never masks it.

    Faults of the service or of the path to it are masked: a timeout, no response, a 5xx, and a 2xx
    that is not the service's JSON (a captive portal's or a misrouted proxy's page). The service's own
    answers are not: a 4xx, or its JSON in a shape the models do not expect.
    """
    if isinstance(error, errors.APITimeoutError):
        return "timeout"
    if isinstance(error, errors.APIConnectionError):
        return "connection"
    if isinstance(error, errors.InternalServerError):
        return "server_error"
    if isinstance(error, errors.ResponseValidationError) and not is_the_services_json(error):
        return "not_json"
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
