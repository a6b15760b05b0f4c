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
import hashlib
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Union

import httpx
import pydantic

from meterly import errors
from meterly._declaration import Echo
from meterly._hooks import Awaiting, SDKHooks
from meterly._logging import is_library_logger, logger
from meterly._raw import RawResponse
from meterly._redaction import hide_credentials, redact_headers
from meterly._responses import error_from_response, is_the_services_json, parse_success
from meterly._wire import TIME_LEFT, Call, ClientClosed, Discard, Received, never_sent
from meterly.errors import shown
from meterly.utils.retries import RETRYABLE_STATUS_CODES, retry_after_seconds, retry_delay

if TYPE_CHECKING:  # fail-open's state loads only for clients that fail open
    from meterly._fail_open import Circuit, FailOpen, LastKnownKey
    from meterly.models._fallback import FallbackReason

__all__ = ["UNSETTLED", "AttemptLoop", "Effect", "Pause", "fallback_reason"]

Effect = Union[httpx.Request, Call, float, Awaiting, Discard]
"""What the loop asks its driver for: send this request (or prepared call), sleep this long (a `Pause`
when the circuit breaker may cut the sleep short), await what an async hook returned, or discard the
connection of a response that answered another request (`Discard`)."""

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


UNSETTLED: Any = object()
"""What `AttemptLoop.settle` answers when an attempt's response does not decide the call on its own."""


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
        started = self.clock() if call.started is None else call.started
        op = call.op
        # From the declaration alone: whether this call records something, and whether the service would
        # count it twice if it were sent twice (then it is never resent once it may have arrived).
        writes = op.writes_with(call.args)
        undeduplicated = writes and op.dedup == "none"
        may_have_arrived = False  # whether a failed attempt of this write may have reached the service
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
            arrived = False  # whether this attempt's request may have reached the service
            closed = False
            try:
                response: Union[httpx.Response, Received] = yield request
            except httpx.RequestError as exc:
                response = None  # type: ignore[assignment]
                elapsed = self.clock() - sent_at
                arrived, closed = not never_sent(exc), isinstance(exc, ClientClosed)
                error = self._on_transport_error(call, exc)
                if hooks.after_error_hooks:
                    outcome = yield from self._after_error(call, None, error, 0.0)
                else:
                    outcome = error
            else:
                elapsed = self.clock() - sent_at
                arrived = True
                if hooks.after_success_hooks or hooks.after_error_hooks:
                    outcome = yield from self._on_response_with_hooks(call, response, elapsed)
                else:
                    outcome = self._on_response(call, response, elapsed)
                if isinstance(outcome, (errors.ResponseMismatchError, errors.ResponseValidationError)):
                    # Another request's answer (or one that fits no model of this operation): its own
                    # answer may still be on that connection, and would answer the next request.
                    yield Discard(response)
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
            elif writes and arrived and (closed or (undeduplicated and _lost_after_arrival(outcome))):
                may_have_arrived = True
                outcome = _outcome_unknown(call, outcome)
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
                        return self._fallback(call, reason, outcome, may_have_arrived)
            delay = None if closed else self._retry_delay(call, attempt, outcome, self.clock() - started)
            if delay is None:
                if isinstance(outcome, errors.MeterlyError):  # what the error says about its call
                    outcome.attempts, outcome.elapsed = attempt, self.clock() - started
                return self._give_up(call, outcome, reason, may_have_arrived)
            if circuit is None or reason is None:
                yield delay
                continue
            yield Pause(delay, circuit)  # woken early when the circuit opens
            if not circuit.admit(self.clock()):
                return self._fallback(call, reason, outcome, may_have_arrived)

    def plain(self, call: Call) -> bool:
        """True when `run` would send `call` itself as the first attempt and, for a 200 that fits the
        model and echoes its request, only return the parsed result: no hook, no attempt log, no
        fail-open circuit, not a raw-response call. A driver may then send the first attempt before
        starting the loop, and start it (handing it that attempt's outcome) only when `settle` does not
        answer: the generator and its setup cost more than the rest of a call's own Python work."""
        hooks = self.hooks
        return not (
            call.raw
            or hooks.before_request_hooks
            or hooks.after_success_hooks
            or hooks.after_error_hooks
            or self.debug_logger is not None
            or (self.fail_open is not None and call.op.fallback is not None)
            or logger.isEnabledFor(logging.DEBUG)
        )

    @staticmethod
    def settle(call: Call, response: Union[httpx.Response, Received]) -> Any:
        """The result for `response` when it is the answer as it stands (a 200 that fits the model and
        echoes its request); else `UNSETTLED`, and the loop's longer path decides. The loop's short path
        for engines that hand back `Received`, and a `plain` call's first attempt in the drivers."""
        if response.status_code != 200:
            return UNSETTLED
        op = call.op
        try:
            result = op.parse(response.content)
        except pydantic.ValidationError:
            return UNSETTLED
        if op.echoes and _mismatched(call, result) is not None:
            return UNSETTLED
        return result

    def _on_response(self, call: Call, response: Union[httpx.Response, Received], elapsed: float) -> Any:
        if isinstance(response, Received):
            # Only a 200 that fits and echoes its request takes the short path; anything else (a 202 to
            # mark degraded, an answer that does not fit or echoes another request) the path below
            # builds around an httpx.Response.
            if not call.raw:
                result = self.settle(call, response)
                if result is not UNSETTLED:
                    return result
            response = response.to_httpx()
        if 200 <= response.status_code < 300:
            return self._success(call, response, elapsed)
        return error_from_response(call.op.operation_id, response, call.secret)

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
            if op.echoes:  # a raw answer is checked too: parsed here only to compare what it echoes
                try:
                    parsed = op.parse(response.content)
                except (pydantic.ValidationError, ValueError):
                    parsed = None
                if parsed is not None and _mismatched(call, parsed) is not None:
                    return _mismatch(call, response, parsed)
            return RawResponse(op.operation_id, response, op.parse, datetime.timedelta(seconds=elapsed))
        result = parse_success(op.operation_id, op.parse, response)
        if op.echoes and not isinstance(result, BaseException) and _mismatched(call, result) is not None:
            return _mismatch(call, response, result)
        return result

    def _on_transport_error(self, call: Call, exc: httpx.RequestError) -> Any:
        op_id = call.op.operation_id
        with contextlib.suppress(RuntimeError):  # RuntimeError: an exception raised without a request
            hide_credentials(exc.request)  # the error's __cause__ carries the request
        error: errors.APIConnectionError
        if isinstance(exc, ClientClosed):
            error = errors.APIConnectionError(f"{op_id}: the client was closed while the call ran")
        elif isinstance(exc, httpx.TimeoutException):
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
        if isinstance(error, errors.WriteOutcomeUnknownError):
            return None  # never resent: the service may have recorded it
        if isinstance(error, errors.ResponseMismatchError):
            retryable = not call.op.writes_with(call.args)  # a read is asked again, on a fresh connection
        elif isinstance(error, errors.APIConnectionError):
            retryable = config.retry_connection_errors
        elif isinstance(error, errors.APIError):
            retryable = error.status_code in RETRYABLE_STATUS_CODES
            requested = retry_after_seconds(error.headers)
        else:
            retryable = False
        return retry_delay(
            config, attempt, elapsed, retryable=retryable, requested=requested, rand=self.random
        )

    def _give_up(
        self, call: Call, error: BaseException, reason: Optional[FallbackReason], may_have_arrived: bool
    ) -> Any:
        """Raise the final error, or answer the fallback when fail-open covers it (`reason` set).

        A 4xx or the service's own JSON in the wrong shape is never masked; a raw-response call asked
        for the HTTP exchange itself, so it is never answered by a fallback either."""
        if reason is None or call.raw:
            raise error
        return self._fallback(call, reason, error, may_have_arrived)

    def _fallback(
        self,
        call: Call,
        reason: FallbackReason,
        error: Optional[BaseException] = None,
        may_have_arrived: bool = False,
    ) -> Any:
        """The fail-open answer for `call`: its last-known answer when the policy keeps them, else
        allowed or denied by the policy for its feature. `error` is the failure it answers for;
        `may_have_arrived` whether a write of this call may have reached the service (the answer then
        says `usage_recorded=None`, else False)."""
        fail_open = self.fail_open
        op = call.op
        assert fail_open is not None
        assert op.fallback is not None  # `run` never answers fail-open for an operation without one
        now = self.clock()
        if error is not None:
            fail_open.circuit(op.operation_id).answered_fallback(now, reason, error, fail_open.answers)
        key = _last_known_key(call) if fail_open.last_known is not None else None
        feature = call.args.get(op.feature_param)
        recorded = None if may_have_arrived else False
        return fail_open.fallback(op.fallback, call.args, feature, reason, key, now, recorded)

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
    if isinstance(error, errors.WriteOutcomeUnknownError) and isinstance(
        error.__cause__, errors.MeterlyError
    ):
        error = error.__cause__  # what hid the write's outcome
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
    """Where a check's real answer is kept for fail-open; None for a call that records usage.

    Keyed by server and credential too, so an answer never crosses servers or API keys (a callable
    `api_key` may serve several tenants); the credential only as a digest, never the key itself."""
    op, args = call.op, call.args
    if op.writes_with(args):
        return None
    url = call.url
    server = (url.scheme, url.host, url.port)
    credential = hashlib.blake2b(call.secret.encode(), digest_size=16).digest()
    return (
        op.operation_id,
        server,
        credential,
        args.get("customer_id"),
        args.get(op.feature_param),
        args.get("entity_id"),
    )


def _lost_after_arrival(error: BaseException) -> bool:
    """Whether a failed attempt that reached the service may have been acted on, its answer lost: no
    answer, a timeout, or a status that does not say the request was refused unread (408, 5xx)."""
    if isinstance(error, errors.APIConnectionError):
        return True
    return (
        isinstance(error, errors.APIError)
        and error.status_code in RETRYABLE_STATUS_CODES
        and (error.status_code != 429)
    )


def _outcome_unknown(call: Call, error: BaseException) -> errors.WriteOutcomeUnknownError:
    """The error of a write that may have been recorded; `error` (what hid its outcome) is its cause."""
    op_id = call.op.operation_id
    unknown = errors.WriteOutcomeUnknownError(
        f"{op_id}: the write may have been recorded, and is not resent "
        f"({type(error).__name__}: {getattr(error, 'message', error)})",
        idempotency_key=call.headers.get("idempotency-key"),
        operation=op_id,
        raw_response=getattr(error, "raw_response", None),
    )
    unknown.__cause__ = error
    return unknown


def _mismatched(call: Call, result: Any) -> Optional[Echo]:
    """The first (parameter, attribute) the answer echoes with another value than the request sent;
    None when the answer belongs to its request. A parameter the call left at None, or an echo the
    answer leaves out, proves nothing either way."""
    args = call.args
    for echo in call.op.echoes:
        sent = args.get(echo[0])
        if sent is None:
            continue
        echoed = getattr(result, echo[1], None)
        if echoed and echoed != sent:
            return echo
    return None


def _mismatch(call: Call, response: httpx.Response, result: Any) -> errors.ResponseMismatchError:
    param, attribute = _mismatched(call, result) or ("", "")
    return errors.ResponseMismatchError(
        f"{call.op.operation_id}: the answer echoes another request's {param} "
        f"(sent {shown(call.args.get(param))}, answered {shown(getattr(result, attribute, None))}); "
        "the connection that carried it was discarded",
        field=param,
        raw_response=response,
    )


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
